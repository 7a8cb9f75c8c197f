//! Where every generated uuid, oid and secret (bearer tokens, API keys, invitation links,
//! session cookies, webhook secrets) gets its random bytes.
//!
//! Unseeded, that is the thread's CSPRNG (`rand::thread_rng`, seeded from the operating system),
//! as it always was. A stand-in's control plane can seed it (`PUT /__parlor/ids`): then the
//! bytes come from ChaCha20 keyed by the seed, so two servers seeded alike and sent the same
//! requests in the same order hand out the same ids and tokens. Only the control plane seeds,
//! and it exists only for a stand-in; a clinic's server never leaves the OS-seeded generator.
//! Password salts and the database key never come from here.
//!
//! One server may need several independent sequences: parallel sandboxes, or a background
//! task, must not take bytes from the sequence the main API's requests use, or the order in
//! which they interleave would decide everyone's ids. So a source can `derive` another by name:
//! it shares the seed (seeding or unseeding reaches every source derived from the same root)
//! but has its own sequence, keyed by (seed, name). A sandbox named `alpha` gets the same ids on
//! every run however many other sandboxes run beside it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use super::clock::Millis;

/// What a source is seeded with, as the control plane was given it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seed {
    Number(u64),
    Text(String),
}

impl Seed {
    /// The ChaCha20 key of the sequence called `name` under this seed. The number 7 and the text
    /// "7" are different seeds.
    fn key(&self, name: &str) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(b"parlor ids\0");
        match self {
            Seed::Number(n) => {
                hash.update(b"n");
                hash.update(n.to_be_bytes());
            }
            Seed::Text(t) => {
                hash.update(b"t");
                hash.update((t.len() as u64).to_be_bytes());
                hash.update(t.as_bytes());
            }
        }
        hash.update(name.as_bytes());
        hash.finalize().into()
    }
}

/// What every source derived from one root shares: the seed.
#[derive(Debug, Default)]
struct Root {
    seed: Mutex<Option<Seed>>,
    /// Raised (under `seed`'s lock) at every seeding and unseeding: each source starts its
    /// sequence afresh when it sees a generation it has not drawn under.
    generation: AtomicU64,
    /// Lets the unseeded path skip every lock.
    seeded: AtomicBool,
}

#[derive(Debug)]
struct Sequence {
    /// The root generation `rng` belongs to; `STALE` forces a fresh start.
    generation: u64,
    rng: Option<ChaCha20Rng>,
}

const STALE: u64 = u64::MAX;

/// A source of ids and secrets. Clones share their sequence; `derive` makes a separate one.
#[derive(Clone, Debug)]
pub struct Ids {
    root: Arc<Root>,
    /// "" for the root source; `/name` (nested: `/a/b`) for derived ones.
    name: Arc<str>,
    sequence: Arc<Mutex<Sequence>>,
}

impl Default for Ids {
    fn default() -> Self {
        Self::random()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these; a poisoned lock still guards consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ids {
    /// A new, unseeded root source.
    pub fn random() -> Self {
        Self::with_root(Arc::default(), "".into())
    }

    fn with_root(root: Arc<Root>, name: Arc<str>) -> Self {
        Self {
            root,
            name,
            sequence: Arc::new(Mutex::new(Sequence {
                generation: STALE,
                rng: None,
            })),
        }
    }

    /// A separate sequence called `name` under the same seed, starting at its beginning: for a
    /// sandbox (its name) or a background task. Deriving the same name again starts that
    /// sequence again.
    pub fn derive(&self, name: &str) -> Ids {
        Self::with_root(self.root.clone(), format!("{}/{name}", self.name).into())
    }

    /// Seeds this source's root: this source and every one derived from the same root start
    /// their sequences from the beginning under `seed`. The seed already in force changes
    /// nothing: starting again would hand out ids the database already holds.
    pub fn seed(&self, seed: Seed) {
        let mut current = lock(&self.root.seed);
        if current.as_ref() == Some(&seed) {
            return;
        }
        *current = Some(seed);
        self.root.generation.fetch_add(1, Ordering::AcqRel);
        self.root.seeded.store(true, Ordering::Release);
    }

    /// Back to the OS-seeded generator, for this root and everything derived from it.
    pub fn unseed(&self) {
        let mut current = lock(&self.root.seed);
        *current = None;
        self.root.generation.fetch_add(1, Ordering::AcqRel);
        self.root.seeded.store(false, Ordering::Release);
    }

    /// The seed in force, if any.
    pub fn seeded(&self) -> Option<Seed> {
        lock(&self.root.seed).clone()
    }

    /// Starts this source's sequence again from the beginning of its seed (a reset's doing:
    /// after it, the same requests get the same ids as after start-up). Other sources, derived
    /// or not, keep their place. Unseeded, nothing changes.
    pub fn reseed(&self) {
        lock(&self.sequence).generation = STALE;
    }

    /// Fills `bytes` from this source.
    pub fn fill(&self, bytes: &mut [u8]) {
        if !self.root.seeded.load(Ordering::Acquire) {
            rand::thread_rng().fill_bytes(bytes);
            return;
        }
        let mut sequence = lock(&self.sequence);
        let (seed, generation) = {
            let seed = lock(&self.root.seed);
            (seed.clone(), self.root.generation.load(Ordering::Acquire))
        };
        let Some(seed) = seed else {
            // Unseeded since the check above.
            drop(sequence);
            rand::thread_rng().fill_bytes(bytes);
            return;
        };
        if sequence.generation != generation || sequence.rng.is_none() {
            sequence.rng = Some(ChaCha20Rng::from_seed(seed.key(&self.name)));
            sequence.generation = generation;
        }
        if let Some(rng) = sequence.rng.as_mut() {
            rng.fill_bytes(bytes);
        }
    }

    /// A time-ordered (version 7) UUID stamped with `now_ms` from Parlor's clock: new rows land
    /// at the end of the `uuid` indexes instead of on a random page each, which keeps a busy
    /// writer's WAL small.
    pub fn uuid(&self, now_ms: Millis) -> String {
        let mut random = [0u8; 10];
        self.fill(&mut random);
        stamped_uuid(now_ms, &random)
    }

    /// ObjectId-like: 4 bytes of Unix seconds then 8 random bytes, as 24 lowercase hex digits.
    pub fn oid(&self, now_ms: Millis) -> String {
        let mut bytes = [0u8; 12];
        let secs = u32::try_from(now_ms.div_euclid(1000)).unwrap_or(0);
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        self.fill(&mut bytes[4..]);
        hex::encode(bytes)
    }

    /// A new secret: 32 bytes as 64 lowercase hex characters, after a readable prefix.
    pub fn secret(&self, prefix: &str) -> String {
        let mut bytes = [0u8; 32];
        self.fill(&mut bytes);
        format!("{prefix}{}", hex::encode(bytes))
    }
}

/// A version 7 UUID stamped with `now_ms`, always from the OS-seeded generator: for ids that
/// are not data (request ids), which no seed should govern.
pub fn unseeded_uuid(now_ms: Millis) -> String {
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    stamped_uuid(now_ms, &random)
}

fn stamped_uuid(now_ms: Millis, random: &[u8; 10]) -> String {
    let ms = u64::try_from(now_ms).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(ms, random)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_733_042_700_000;

    fn draws(ids: &Ids) -> Vec<String> {
        vec![ids.uuid(NOW), ids.oid(NOW), ids.secret("plr_")]
    }

    #[test]
    fn ids_carry_the_clocks_time() {
        let ids = Ids::random();
        let oid = ids.oid(NOW);
        assert_eq!(oid.len(), 24);
        assert!(oid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(&oid[..8], &format!("{:08x}", 1_733_042_700u32));
        let uuid = uuid::Uuid::parse_str(&ids.uuid(NOW)).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        let (secs, nanos) = uuid.get_timestamp().unwrap().to_unix();
        assert_eq!(secs * 1000 + u64::from(nanos) / 1_000_000, NOW as u64);
        let secret = ids.secret("plr_");
        assert_eq!(secret.len(), 4 + 64);
    }

    #[test]
    fn a_seed_repeats_its_sequence_and_unseeded_sources_do_not() {
        let (a, b) = (Ids::random(), Ids::random());
        assert_ne!(draws(&a), draws(&b));
        a.seed(Seed::Number(7));
        b.seed(Seed::Number(7));
        let first = draws(&a);
        assert_eq!(first, draws(&b));
        assert_ne!(first, draws(&a), "the sequence moves on");
        let second = draws(&b);
        b.seed(Seed::Number(7));
        assert_eq!(draws(&a), draws(&b), "the same seed again goes on");
        assert_ne!(second, draws(&b));
        b.seed(Seed::Text("7".into()));
        assert_ne!(first, draws(&b));
        a.reseed();
        assert_eq!(first, draws(&a), "reseed starts again");
        a.unseed();
        assert_eq!(a.seeded(), None);
        assert_ne!(draws(&a), draws(&Ids::random()));
    }

    #[test]
    fn derived_sources_have_their_own_sequence_under_the_same_seed() {
        let main = Ids::random();
        let alpha = main.derive("alpha");
        main.seed(Seed::Number(1));
        let from_main = draws(&main);
        let from_alpha = draws(&alpha);
        assert_ne!(from_main, from_alpha);
        // Another server: sandbox first, then main; each sequence is unaffected by the other.
        let other = Ids::random();
        other.seed(Seed::Number(1));
        assert_eq!(draws(&other.derive("alpha")), from_alpha);
        assert_eq!(draws(&other), from_main);
        assert_ne!(draws(&other.derive("beta")), from_alpha);
        // Seeding the root reaches a derived source made earlier.
        main.seed(Seed::Number(2));
        assert_ne!(draws(&alpha), from_alpha);
        main.seed(Seed::Number(1));
        assert_eq!(draws(&alpha), from_alpha);
    }
}
