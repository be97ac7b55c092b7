//! The tests' one random generator: xorshift64*, seeded by the test, so a failing case is
//! reproducible from its seed and index (no crate: the tests want the same sequence on every
//! machine and every version). A test's own generator of documents wraps it and derefs to it.

/// xorshift64* (Vigna): 64 bits of state, never zero.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (a zero seed, which xorshift cannot leave, is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// One of `xs` (which must not be empty).
    pub fn pick<'a, T: ?Sized>(&mut self, xs: &[&'a T]) -> &'a T {
        xs[self.below(xs.len())]
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequence the differential tests were written against (their generated cases and any
    /// recorded failing index depend on it).
    #[test]
    fn the_sequence_is_xorshift64_star() {
        let mut r = Rng::new(1);
        assert_eq!(r.next_u64(), 0x47E4_CE4B_896C_DD1D);
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let xs: Vec<usize> = (0..1000).map(|_| a.below(7)).collect();
        assert!(xs.iter().all(|&x| x < 7));
        assert_eq!(xs, (0..1000).map(|_| b.below(7)).collect::<Vec<_>>());
        for k in 0..7 {
            assert!(xs.contains(&k), "{k} never drawn");
        }
        assert_eq!(Rng::new(5).below(0), 0);
    }
}
