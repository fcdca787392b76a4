//! Counter-based random numbers: every random draw of sampling is a pure function of
//! `(seed, stream, sample index, step)`, so a sample's tokens do not depend on batch size,
//! slot, device count or scheduling order.
//!
//! The generator is Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
//! 1, 2, 3", SC 2011), the counter-based generator of cuRAND, JAX and PyTorch: the 64-bit
//! seed is the key, and the 128-bit counter is `[step, sample index, stream low, stream high]`
//! (sample indices and steps up to 2³²). One call gives 128 random bits; sampling uses 53 of
//! them as a uniform float in `[0, 1)`. The same function is easy to run inside a GPU kernel.

/// The Philox4x32 multipliers and Weyl key increments (Random123).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds: 128 random bits for `counter` under `key`.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// Identifies one random draw of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DrawKey {
    /// The request's seed.
    pub seed: u64,
    /// Which group of samples of the request (e.g. the temperature index).
    pub stream: u64,
    /// The sample's index within its group.
    pub index: u64,
    /// The generated token's position (0 for the first generated token).
    pub step: u64,
}

impl DrawKey {
    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn uniform(&self) -> f64 {
        let out = philox4x32_10(
            [
                self.step as u32,
                self.index as u32,
                self.stream as u32,
                (self.stream >> 32) as u32,
            ],
            [self.seed as u32, (self.seed >> 32) as u32],
        );
        let bits = ((u64::from(out[0]) << 32) | u64::from(out[1])) >> 11;
        bits as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// SplitMix64: a fast sequential generator for filling synthetic weights and prompts (not
/// used for sampling).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[-1, 1)`.
    pub fn next_symmetric(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) * 2.0 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_matches_the_random123_known_answers() {
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn draws_are_uniform_and_keyed_by_every_field() {
        let base = DrawKey {
            seed: 7,
            stream: 3,
            index: 11,
            step: 5,
        };
        let u = base.uniform();
        assert!((0.0..1.0).contains(&u));
        assert_eq!(u, base.uniform());
        for other in [
            DrawKey { seed: 8, ..base },
            DrawKey { stream: 4, ..base },
            DrawKey { index: 12, ..base },
            DrawKey { step: 6, ..base },
            DrawKey {
                stream: 3 + (1 << 32),
                ..base
            },
        ] {
            assert_ne!(other.uniform(), u, "{other:?}");
        }
        // Mean of many draws is close to 1/2.
        let mean: f64 = (0..10_000)
            .map(|step| DrawKey { step, ..base }.uniform())
            .sum::<f64>()
            / 10_000.0;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
