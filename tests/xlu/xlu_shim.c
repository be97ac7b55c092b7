/*
 * xlu_shim: feeds inputs to Xen's real libxlutil parsers and prints what they reach, one line each.
 * Used by tests/spec_differential.rs (compiled with `cc` at test time, linked to Debian's
 * libxen-dev libxlutil/libxenlight 4.17).
 *
 * Input on stdin: NUL-terminated records `M F P <input>` (no spaces between), where
 *   M = 'S' (xlu_pci_parse_spec_string), 'B' (xlu_pci_parse_bdf) or 'R' (xlu_rdm_parse),
 *   F = '@' + bitmask of xl's per-device defaults (1 msitranslate, 2 power_mgmt, 4 permissive, 8 seize),
 *   P = the default rdm_policy: 'i' invalid, 's' strict, 'r' relaxed.
 * Output on stdout, one line per record, fields separated by one space, strings hex-encoded ('-' = NULL/empty):
 *   S/B: rc domain bus dev func vdevfn vfunc_mask msitranslate power_mgmt permissive seize rdm_policy name report
 *        (name: '-' = NULL, otherwise '=' followed by the hex bytes)
 *   R:   rc strategy policy report      (99 = left untouched)
 * `report` is what libxlutil printed to its report stream (xl's stderr) for that input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxl.h>
#include <libxlutil.h>

static void put_hex(const char *s, size_t len)
{
    if (!s || !len) { fputs("-", stdout); return; }
    for (size_t i = 0; i < len; i++) printf("%02x", (unsigned char)s[i]);
}

int main(void)
{
    char *rec = NULL;
    size_t cap = 0;
    ssize_t got;

    while ((got = getdelim(&rec, &cap, '\0', stdin)) > 0) {
        if (rec[got - 1] == '\0') got--;
        if (got < 3) { fprintf(stderr, "xlu_shim: short record\n"); return 2; }
        char mode = rec[0];
        unsigned flags = (unsigned)(rec[1] - '@');
        char pol = rec[2];
        const char *input = rec + 3;

        char *report = NULL;
        size_t report_len = 0;
        FILE *rs = open_memstream(&report, &report_len);
        XLU_Config *cfg = xlu_cfg_init(rs, "shim");
        if (!cfg) { fprintf(stderr, "xlu_shim: xlu_cfg_init failed\n"); return 2; }

        int rc;
        if (mode == 'R') {
            libxl_rdm_reserve rdm;
            libxl_rdm_reserve_init(&rdm);
            rdm.strategy = 99;
            rdm.policy = 99;
            rc = xlu_rdm_parse(cfg, &rdm, input);
            fflush(rs);
            printf("%d %d %d ", rc, (int)rdm.strategy, (int)rdm.policy);
            put_hex(report, report_len);
            putchar('\n');
        } else if (mode == 'S' || mode == 'B') {
            libxl_device_pci pci;
            libxl_device_pci_init(&pci);
            pci.msitranslate = !!(flags & 1);
            pci.power_mgmt = !!(flags & 2);
            pci.permissive = !!(flags & 4);
            pci.seize = !!(flags & 8);
            pci.rdm_policy = pol == 's' ? LIBXL_RDM_RESERVE_POLICY_STRICT
                           : pol == 'r' ? LIBXL_RDM_RESERVE_POLICY_RELAXED
                           : LIBXL_RDM_RESERVE_POLICY_INVALID;
            rc = mode == 'S' ? xlu_pci_parse_spec_string(cfg, &pci, input)
                             : xlu_pci_parse_bdf(cfg, &pci, input);
            fflush(rs);
            printf("%d %d %u %u %u %u %u %d %d %d %d %d ", rc, pci.domain, pci.bus, pci.dev,
                   pci.func, pci.vdevfn, pci.vfunc_mask, pci.msitranslate, pci.power_mgmt,
                   pci.permissive, pci.seize, (int)pci.rdm_policy);
            if (pci.name) { putchar('='); if (pci.name[0]) put_hex(pci.name, strlen(pci.name)); }
            else putchar('-');
            putchar(' ');
            put_hex(report, report_len);
            putchar('\n');
            libxl_device_pci_dispose(&pci);
        } else {
            fprintf(stderr, "xlu_shim: bad mode %c\n", mode);
            return 2;
        }
        xlu_cfg_destroy(cfg);
        fclose(rs);
        free(report);
        fflush(stdout);
    }
    free(rec);
    return 0;
}
