//! The response cache: an in-memory LRU of answers to deterministic requests.
//!
//! A request is cached when it is deterministic — `temperature` 0 — or when the call asks
//! for it (`cache: true`); `cache: false` turns it off for one call. The key is a canonical
//! form of everything sent upstream (model, messages, every parameter, object keys sorted)
//! plus the fallback chain, so two requests share an entry only if the gateway would have
//! seen the same request. Entries expire after the configured TTL and the least recently
//! used one is evicted when the cache is full. Only successful answers are stored; the
//! cache is per process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pipeline::Answer;
use crate::upstream::ChatRequest;

/// Entries kept by default.
pub const DEFAULT_MAX_ENTRIES: usize = 256;
/// How long an entry is served by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// `[cache]`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// 0 turns the cache off.
    pub max_entries: usize,
    pub ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            ttl: DEFAULT_TTL,
        }
    }
}

struct Entry {
    answer: Answer,
    stored: Instant,
    tick: u64,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<String, Entry>,
    /// Last use → key; the first entry is the least recently used.
    order: BTreeMap<u64, String>,
    tick: u64,
}

/// The cache. All methods take `&self`; a mutex guards the map (held only for map work).
pub struct Cache {
    config: CacheConfig,
    lru: Mutex<Lru>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.config)
            .field("len", &self.len())
            .finish()
    }
}

impl Cache {
    pub fn new(config: CacheConfig) -> Self {
        Self {
            config,
            lru: Mutex::new(Lru::default()),
        }
    }

    /// The key for `request` (sent with `fallbacks` behind it), or `None` when the request
    /// is not to be cached.
    pub fn key(&self, request: &ChatRequest, fallbacks: &[String]) -> Option<String> {
        if self.config.max_entries == 0 {
            return None;
        }
        let wanted = match request.fine.cache {
            Some(flag) => flag,
            None => request.sampling.temperature == Some(0.0),
        };
        if !wanted {
            return None;
        }
        let value = serde_json::to_value(request).ok()?;
        let mut key = String::new();
        canonical(&value, &mut key);
        for f in fallbacks {
            key.push('\u{1f}');
            key.push_str(f);
        }
        if let Some(api) = request.api {
            key.push('\u{1e}');
            key.push_str(api.name());
        }
        Some(key)
    }

    /// The answer stored under `key`, if it has not expired.
    pub fn get(&self, key: &str) -> Option<Answer> {
        let mut lru = self.lru.lock().unwrap_or_else(PoisonError::into_inner);
        let lru = &mut *lru;
        let entry = lru.entries.get_mut(key)?;
        if entry.stored.elapsed() > self.config.ttl {
            let tick = entry.tick;
            lru.entries.remove(key);
            lru.order.remove(&tick);
            return None;
        }
        lru.tick += 1;
        lru.order.remove(&entry.tick);
        entry.tick = lru.tick;
        lru.order.insert(lru.tick, key.to_owned());
        Some(entry.answer.clone())
    }

    /// Stores `answer` under `key`, evicting the least recently used entry when full.
    pub fn put(&self, key: String, answer: &Answer) {
        if self.config.max_entries == 0 {
            return;
        }
        let mut lru = self.lru.lock().unwrap_or_else(PoisonError::into_inner);
        let lru = &mut *lru;
        lru.tick += 1;
        let tick = lru.tick;
        if let Some(old) = lru.entries.remove(&key) {
            lru.order.remove(&old.tick);
        }
        while lru.entries.len() >= self.config.max_entries {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            lru.entries.remove(&oldest);
        }
        lru.order.insert(tick, key.clone());
        lru.entries.insert(
            key,
            Entry {
                answer: answer.clone(),
                stored: Instant::now(),
                tick,
            },
        );
    }

    /// Entries held now (expired ones included until they are next looked up).
    pub fn len(&self) -> usize {
        self.lru
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes `v` as JSON with every object's keys sorted, so equal requests give equal keys
/// whatever order their objects were written in.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{CostSource, Tokens};
    use crate::upstream::types::{Sampling, WireMessage};
    use serde_json::json;

    fn request(model: &str, temperature: Option<f64>, content: Value) -> ChatRequest {
        ChatRequest::new(
            model.into(),
            vec![WireMessage {
                role: "user",
                content,
                name: None,
                tool_call_id: None,
                tool_calls: None,
            }],
            Sampling {
                temperature,
                max_tokens: None,
            },
        )
    }

    fn answer(content: &str) -> Answer {
        Answer {
            model: "m".into(),
            requested_model: "m".into(),
            provider: "aisa".into(),
            content: content.into(),
            tool_calls: vec![],
            finish_reason: None,
            usage: Tokens::default(),
            cost_usd: None,
            cost_source: CostSource::Unknown,
            cost_exact: None,
            attempts: vec![],
            latency_ms: 0,
            time_to_first_token_ms: None,
            cached: false,
            downgraded: None,
        }
    }

    fn cache(max_entries: usize, ttl: Duration) -> Cache {
        Cache::new(CacheConfig { max_entries, ttl })
    }

    #[test]
    fn only_deterministic_or_opted_in_requests_have_keys() {
        let c = cache(4, DEFAULT_TTL);
        assert!(c.key(&request("m", Some(0.0), json!("hi")), &[]).is_some());
        assert!(c.key(&request("m", Some(0.7), json!("hi")), &[]).is_none());
        assert!(c.key(&request("m", None, json!("hi")), &[]).is_none());
        let mut opted = request("m", Some(0.7), json!("hi"));
        opted.fine.cache = Some(true);
        assert!(c.key(&opted, &[]).is_some());
        let mut opted_out = request("m", Some(0.0), json!("hi"));
        opted_out.fine.cache = Some(false);
        assert!(c.key(&opted_out, &[]).is_none());
        assert!(
            cache(0, DEFAULT_TTL)
                .key(&request("m", Some(0.0), json!("hi")), &[])
                .is_none(),
            "max_entries = 0 turns the cache off"
        );
    }

    #[test]
    fn keys_cover_model_messages_params_and_fallbacks_but_not_key_order() {
        let c = cache(4, DEFAULT_TTL);
        let k = |r: &ChatRequest, f: &[String]| c.key(r, f).unwrap();
        let base = request(
            "m",
            Some(0.0),
            json!([{"type": "text", "text": "hi", "x": 1}]),
        );
        let reordered = request(
            "m",
            Some(0.0),
            json!([{"x": 1, "text": "hi", "type": "text"}]),
        );
        assert_eq!(k(&base, &[]), k(&reordered, &[]));
        assert_ne!(k(&base, &[]), k(&request("n", Some(0.0), json!("hi")), &[]));
        assert_ne!(k(&base, &[]), k(&base, &["other".into()]));
        let mut longer = base.clone();
        longer.sampling.max_tokens = Some(5);
        assert_ne!(k(&base, &[]), k(&longer, &[]));
    }

    #[test]
    fn least_recently_used_entries_are_evicted() {
        let c = cache(2, DEFAULT_TTL);
        c.put("a".into(), &answer("A"));
        c.put("b".into(), &answer("B"));
        assert_eq!(c.get("a").unwrap().content, "A"); // a is now the most recent
        c.put("c".into(), &answer("C"));
        assert!(c.get("b").is_none(), "b was the least recently used");
        assert_eq!(c.get("a").unwrap().content, "A");
        assert_eq!(c.get("c").unwrap().content, "C");
        assert_eq!(c.len(), 2);
        c.put("c".into(), &answer("C2"));
        assert_eq!((c.len(), c.get("c").unwrap().content.as_str()), (2, "C2"));
    }

    #[test]
    fn entries_expire() {
        let c = cache(2, Duration::ZERO);
        c.put("a".into(), &answer("A"));
        std::thread::sleep(Duration::from_millis(2));
        assert!(c.get("a").is_none());
        assert!(c.is_empty());
    }
}
