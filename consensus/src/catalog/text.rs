//! Full-text search: an inverted index from terms to the assets holding
//! them, kept up to date on apply, and a ranked AND query over it.
//!
//! Terms are the lower-cased alphanumeric runs of an asset's name, id, type,
//! tags, namespace, owner and metadata string values. Each (term, asset)
//! posting carries a weight by field: a term in the name counts more than in
//! a tag, which counts more than in the id or the metadata. A query matches
//! assets holding every one of its terms (a term ending in `*` matches any
//! term with that prefix) and ranks them by the sum over its terms of
//! weight × inverse document frequency, so rarer terms decide more (the
//! catalog puts an asset whose id is the whole query first).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use imbl::{HashMap, OrdMap, OrdSet};

use super::model::Asset;

/// Weight of a term in the name.
const NAME_WEIGHT: u32 = 8;
/// Weight of a term in a tag.
const TAG_WEIGHT: u32 = 4;
/// Weight of a term in the id, type, namespace or owner.
const LABEL_WEIGHT: u32 = 2;
/// Weight of a term in a metadata string.
const METADATA_WEIGHT: u32 = 1;
/// Longest term indexed; longer runs are not searchable.
const MAX_TERM_LEN: usize = 64;
/// Most distinct terms indexed per asset (name and tags come first).
const MAX_TERMS_PER_ASSET: usize = 256;
/// Most index terms a `prefix*` query term expands to.
pub const MAX_PREFIX_EXPANSION: usize = 128;
/// Most terms in a query.
pub const MAX_QUERY_TERMS: usize = 16;

/// Term -> asset slot -> weight, and the terms in order for prefixes.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextIndex {
    /// Hashed: most lookups are exact, and hashing a term is cheaper than
    /// comparing it along a tree path.
    postings: HashMap<String, OrdMap<u64, u32>>,
    /// Every indexed term, ordered, to expand `prefix*` query terms.
    terms: OrdSet<String>,
}

/// The weighted terms of an asset, as indexed.
pub(crate) fn asset_terms(asset: &Asset) -> BTreeMap<String, u32> {
    let mut terms = Terms::default();
    terms.add(&asset.name, NAME_WEIGHT);
    for tag in &asset.tags {
        terms.add(tag, TAG_WEIGHT);
    }
    terms.add(&asset.id, LABEL_WEIGHT);
    terms.add(&asset.kind, LABEL_WEIGHT);
    for label in [&asset.namespace, &asset.owner].into_iter().flatten() {
        terms.add(label, LABEL_WEIGHT);
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&asset.metadata) {
        for value in map.values() {
            terms.add_strings(value);
        }
    }
    terms.0
}

#[derive(Default)]
struct Terms(BTreeMap<String, u32>);

impl Terms {
    fn add(&mut self, text: &str, weight: u32) {
        for term in tokens(text) {
            if self.0.len() >= MAX_TERMS_PER_ASSET && !self.0.contains_key(&term) {
                return;
            }
            let slot = self.0.entry(term).or_default();
            *slot = slot.saturating_add(weight);
        }
    }

    fn add_strings(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(text) => self.add(text, METADATA_WEIGHT),
            serde_json::Value::Array(items) => items.iter().for_each(|v| self.add_strings(v)),
            serde_json::Value::Object(map) => map.values().for_each(|v| self.add_strings(v)),
            _ => {}
        }
    }
}

/// Lower-cased alphanumeric runs of `text`, at most [`MAX_TERM_LEN`] bytes.
pub(crate) fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|run| !run.is_empty() && run.len() <= MAX_TERM_LEN)
        .map(str::to_lowercase)
}

/// One term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QueryTerm {
    text: String,
    prefix: bool,
}

/// Splits a query into terms; a word ending in `*` makes its last term a prefix.
fn query_terms(query: &str) -> Vec<QueryTerm> {
    let mut terms = Vec::new();
    for word in query.split_whitespace() {
        let prefix = word.ends_with('*');
        let mut word_terms: Vec<QueryTerm> = tokens(word)
            .map(|text| QueryTerm {
                text,
                prefix: false,
            })
            .collect();
        if let Some(last) = word_terms.last_mut() {
            last.prefix = prefix;
        }
        terms.extend(word_terms);
    }
    terms.dedup();
    terms.truncate(MAX_QUERY_TERMS);
    terms
}

/// A ranked hit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hit {
    /// The asset's slot.
    pub slot: u64,
    /// Its score (higher is better); only comparable within one query.
    pub score: f64,
}

impl Eq for Hit {}

impl Ord for Hit {
    /// Better hits are "smaller", so a max-heap keeps the worst on top;
    /// of equal scores, the older asset is better.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.slot.cmp(&other.slot))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl TextIndex {
    /// Indexes `asset`'s terms.
    pub(crate) fn add(&mut self, asset: &Asset) {
        for (term, weight) in asset_terms(asset) {
            match self.postings.get_mut(&term) {
                Some(posting) => {
                    posting.insert(asset.slot, weight);
                }
                None => {
                    self.terms.insert(term.clone());
                    self.postings.insert(term, OrdMap::unit(asset.slot, weight));
                }
            }
        }
    }

    /// Removes `asset`'s terms (computed from the same asset that was added).
    pub(crate) fn remove(&mut self, asset: &Asset) {
        for term in asset_terms(asset).into_keys() {
            if let Some(posting) = self.postings.get_mut(&term) {
                posting.remove(&asset.slot);
                if posting.is_empty() {
                    self.postings.remove(&term);
                    self.terms.remove(&term);
                }
            }
        }
    }

    /// Postings of one query term (a prefix term merges its expansions,
    /// keeping the best weight per asset).
    fn postings_of(&self, term: &QueryTerm) -> OrdMap<u64, u32> {
        if !term.prefix {
            return self.postings.get(&term.text).cloned().unwrap_or_default();
        }
        let mut merged: OrdMap<u64, u32> = OrdMap::new();
        let expansions = self
            .terms
            .range(term.text.clone()..)
            .take_while(|text| text.starts_with(&term.text))
            .take(MAX_PREFIX_EXPANSION)
            .filter_map(|text| self.postings.get(text));
        for posting in expansions {
            if merged.is_empty() {
                merged = posting.clone();
                continue;
            }
            for (id, weight) in posting {
                let best = merged.get(id).map_or(*weight, |w| (*w).max(*weight));
                merged.insert(*id, best);
            }
        }
        merged
    }

    /// The best `limit` assets holding every term of `query` and accepted
    /// by `keep`, best first; `total` is the number of assets indexed.
    pub(crate) fn search(
        &self,
        query: &str,
        total: usize,
        limit: usize,
        keep: impl Fn(u64) -> bool,
    ) -> Vec<Hit> {
        let terms = query_terms(query);
        if terms.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut lists: Vec<OrdMap<u64, u32>> = terms.iter().map(|t| self.postings_of(t)).collect();
        lists.sort_by_key(OrdMap::len);
        let idf = |list: &OrdMap<u64, u32>| (1.0 + total as f64 / list.len().max(1) as f64).ln();
        let weights: Vec<f64> = lists.iter().map(idf).collect();
        let mut best: BinaryHeap<Hit> = BinaryHeap::with_capacity(limit + 1);
        let (rarest, others) = lists.split_first().expect("at least one term");
        'candidates: for (slot, weight) in rarest {
            let mut score = weights[0] * f64::from(*weight);
            for (list, idf) in others.iter().zip(&weights[1..]) {
                match list.get(slot) {
                    Some(w) => score += idf * f64::from(*w),
                    None => continue 'candidates,
                }
            }
            if !keep(*slot) {
                continue;
            }
            best.push(Hit { slot: *slot, score });
            if best.len() > limit {
                best.pop();
            }
        }
        best.into_sorted_vec()
    }
}
