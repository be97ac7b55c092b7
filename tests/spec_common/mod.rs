//! Shared helpers for the PCI_SPEC_STRING tests: the conformance vectors in
//! `grammar/vectors/pci-spec.tsv`, and "what Xen reaches" in one comparable shape, computed either by
//! our parser ([`ours`]) or read from the libxlutil shim's output line ([`Reached::from_shim`]).
#![allow(dead_code)]

use xenpci::syntax::pci_spec::{
    parse_assignable_bdf, parse_spec, RdmPolicy, SpecDefaults, SpecErrorKind,
};
use xenpci::syntax::rdm::{parse_rdm, rdm_item, RdmStrategy};

/// Which libxlutil entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// xlu_pci_parse_spec_string
    Spec,
    /// xlu_pci_parse_bdf
    Bdf,
    /// xlu_rdm_parse
    Rdm,
}

impl Ctx {
    pub fn letter(self) -> char {
        match self {
            Ctx::Spec => 'S',
            Ctx::Bdf => 'B',
            Ctx::Rdm => 'R',
        }
    }
}

/// One conformance vector.
#[derive(Debug, Clone)]
pub struct Vector {
    pub row: String,
    pub ctx: Ctx,
    pub input: String,
    pub outcome: String,
    pub expect: serde_json::Value,
}

/// Reads `grammar/vectors/pci-spec.tsv`.
pub fn vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/grammar/vectors/pci-spec.tsv");
    let text = std::fs::read_to_string(path).expect("read pci-spec.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 5, "bad vector line {l:?}");
            Vector {
                row: cols[0].into(),
                ctx: match cols[1] {
                    "spec" => Ctx::Spec,
                    "bdf" => Ctx::Bdf,
                    "rdm" => Ctx::Rdm,
                    c => panic!("bad ctx {c}"),
                },
                input: serde_json::from_str(cols[2]).expect("input is a JSON string"),
                outcome: cols[3].into(),
                expect: serde_json::from_str(cols[4]).expect("expected is a JSON object"),
            }
        })
        .collect()
}

/// The per-device defaults xl applies, encoded as the shim's two header characters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defaults(pub SpecDefaults);

impl Defaults {
    pub fn from_bits(bits: u8, policy: u8) -> Defaults {
        Defaults(SpecDefaults {
            msitranslate: bits & 1 != 0,
            power_mgmt: bits & 2 != 0,
            permissive: bits & 4 != 0,
            seize: bits & 8 != 0,
            rdm_policy: match policy % 3 {
                0 => None,
                1 => Some(RdmPolicy::Strict),
                _ => Some(RdmPolicy::Relaxed),
            },
        })
    }
    pub fn header(&self) -> [u8; 2] {
        let d = &self.0;
        let bits = u8::from(d.msitranslate)
            | u8::from(d.power_mgmt) << 1
            | u8::from(d.permissive) << 2
            | u8::from(d.seize) << 3;
        let pol = match d.rdm_policy {
            None => b'i',
            Some(RdmPolicy::Strict) => b's',
            Some(RdmPolicy::Relaxed) => b'r',
        };
        [b'@' + bits, pol]
    }
}

/// What a parser reached, in libxl's terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reached {
    pub rc: i32,
    pub domain: i64,
    pub bus: u32,
    pub dev: u32,
    pub func: u32,
    pub vdevfn: u32,
    pub mask: u32,
    pub flags: [bool; 4],
    pub rdm_policy: i32,
    pub name: Option<String>,
    pub strategy: i32,
    pub policy: i32,
    pub report: String,
}

fn unhex(s: &str) -> String {
    if s == "-" {
        return String::new();
    }
    let bytes: Vec<u8> = (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Reached {
    /// Reads one shim output line for `ctx`.
    pub fn from_shim(ctx: Ctx, line: &str) -> Reached {
        let f: Vec<&str> = line.split(' ').collect();
        let int = |i: usize| {
            f[i].parse::<i64>()
                .unwrap_or_else(|_| panic!("bad shim line {line:?}"))
        };
        match ctx {
            Ctx::Rdm => Reached {
                rc: int(0) as i32,
                strategy: int(1) as i32,
                policy: int(2) as i32,
                report: unhex(f[3]),
                ..Reached::default()
            },
            _ => Reached {
                rc: int(0) as i32,
                domain: int(1),
                bus: int(2) as u32,
                dev: int(3) as u32,
                func: int(4) as u32,
                vdevfn: int(5) as u32,
                mask: int(6) as u32,
                flags: [int(7) != 0, int(8) != 0, int(9) != 0, int(10) != 0],
                rdm_policy: int(11) as i32,
                name: match f[12] {
                    "-" => None,
                    n => Some(unhex(n.strip_prefix('=').unwrap_or("-"))),
                },
                report: unhex(f[13]),
                ..Reached::default()
            },
        }
    }

    /// The fields that are meaningful to compare (on failure: only rc and the report).
    pub fn comparable(&self, ctx: Ctx) -> Reached {
        if self.rc != 0 {
            return Reached {
                rc: self.rc,
                report: self.report.clone(),
                ..Reached::default()
            };
        }
        match ctx {
            Ctx::Bdf => Reached {
                rc: 0,
                domain: self.domain,
                bus: self.bus,
                dev: self.dev,
                func: self.func,
                mask: self.mask,
                report: self.report.clone(),
                ..Reached::default()
            },
            _ => self.clone(),
        }
    }
}

fn policy_code(p: Option<RdmPolicy>) -> i32 {
    match p {
        None => -1,
        Some(RdmPolicy::Strict) => 0,
        Some(RdmPolicy::Relaxed) => 1,
    }
}

fn rc_of(kind: SpecErrorKind) -> Option<i32> {
    kind.xen_code()
}

/// What our parser reaches for `input` (None: we reject it as undefined in Xen).
pub fn ours(ctx: Ctx, input: &str, d: &Defaults) -> Option<Reached> {
    match ctx {
        Ctx::Spec => match parse_spec(input, &d.0) {
            Ok((s, _)) => {
                let b = s.bdf.unwrap_or_default_bdf();
                Some(Reached {
                    rc: 0,
                    domain: i64::from(b.0),
                    bus: u32::from(b.1),
                    dev: u32::from(b.2),
                    func: u32::from(b.3),
                    vdevfn: s.vdevfn(),
                    mask: s.vfunc_mask(),
                    flags: [s.msitranslate, s.power_mgmt, s.permissive, s.seize],
                    rdm_policy: policy_code(s.rdm_policy),
                    name: s.name.clone(),
                    ..Reached::default()
                })
            }
            Err(e) => rc_of(e.kind).map(|rc| Reached {
                rc,
                report: e.xen_report.unwrap_or_default(),
                ..Reached::default()
            }),
        },
        Ctx::Bdf => match parse_assignable_bdf(input) {
            Ok((r, _)) => Some(Reached {
                rc: 0,
                domain: i64::from(r.bdf.segment),
                bus: u32::from(r.bdf.bus),
                dev: u32::from(r.bdf.device),
                func: u32::from(r.bdf.function),
                mask: if r.all_functions { u32::MAX } else { 1 },
                ..Reached::default()
            }),
            Err(e) => rc_of(e.kind).map(|rc| Reached {
                rc,
                report: e.xen_report.unwrap_or_default(),
                ..Reached::default()
            }),
        },
        Ctx::Rdm => {
            // Xen prints "Unknown RDM policy: v" for every invalid policy it passes.
            let mut report = String::new();
            let mut rest = input;
            while let Ok((r, item)) = rdm_item(rest) {
                let valid_policy = ["strict", "relaxed", "invalid"]
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(item.value));
                let goes_on = match item.key {
                    "policy" if !valid_policy => {
                        report.push_str(&format!("Unknown RDM policy: {}", item.value));
                        true
                    }
                    "strategy" => item.value == "host",
                    _ => false,
                };
                if !goes_on || !item.comma {
                    break;
                }
                rest = r;
            }
            match parse_rdm(input) {
                Ok((r, _)) => Some(Reached {
                    rc: 0,
                    strategy: if r.strategy == Some(RdmStrategy::Host) {
                        1
                    } else {
                        99
                    },
                    policy: 99,
                    report,
                    ..Reached::default()
                }),
                Err(e) => Some(Reached {
                    rc: -6,
                    report: format!("{report}{}", e.xen_report.unwrap_or_default()),
                    ..Reached::default()
                }),
            }
        }
    }
}

trait BdfParts {
    fn unwrap_or_default_bdf(self) -> (u16, u8, u8, u8);
}

impl BdfParts for Option<xenpci::pci::Bdf> {
    fn unwrap_or_default_bdf(self) -> (u16, u8, u8, u8) {
        self.map_or((0, 0, 0, 0), |b| (b.segment, b.bus, b.device, b.function))
    }
}
