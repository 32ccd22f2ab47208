//! Cursor pagination: `?limit=` (1..100, default 20) and `?after=<cursor>`, answered as
//! `{"data": [...], "has_more": bool, "next_cursor": "..." | null}`.
//!
//! Lists are ordered by id; a cursor is the last id of the previous page, so a page is
//! stable under inserts.

use bson::oid::ObjectId;
use serde::{Deserialize, Deserializer, Serialize};

use crate::extract::parse_object_id;

/// How many items a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u16);

impl Limit {
    pub const MAX: u16 = 100;
    pub const DEFAULT: u16 = 20;

    pub fn get(self) -> usize {
        usize::from(self.0)
    }

    /// What a store reads for a page: one more than it holds, which tells whether there is
    /// more ([`Page::from_overfetch`]).
    pub fn overfetch(self) -> usize {
        self.get() + 1
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        match raw.parse::<u16>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(serde::de::Error::custom(
                "limit: must be an integer from 1 to 100",
            )),
        }
    }
}

/// Where the next page starts: the id of the last item already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub ObjectId);

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        parse_object_id(&raw).map(Cursor).ok_or_else(|| {
            serde::de::Error::custom("after: must be a next_cursor returned by a previous page")
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items read in id order: the extra one only
    /// tells that there is more.
    pub fn from_overfetch(mut items: Vec<T>, limit: Limit, id_of: impl Fn(&T) -> ObjectId) -> Self {
        let has_more = items.len() > limit.get();
        items.truncate(limit.get());
        let next_cursor = if has_more {
            items.last().map(|item| id_of(item).to_hex())
        } else {
            None
        };
        Self {
            data: items,
            has_more,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Q {
        #[serde(default)]
        limit: Limit,
    }

    fn limit(query: &str) -> Result<Limit, serde_urlencoded::de::Error> {
        serde_urlencoded::from_str::<Q>(query).map(|q| q.limit)
    }

    #[test]
    fn limit_defaults_to_20_and_accepts_1_to_100() {
        assert_eq!(limit("").unwrap().get(), 20);
        assert_eq!(limit("limit=1").unwrap().get(), 1);
        assert_eq!(limit("limit=100").unwrap().get(), 100);
        for bad in ["limit=0", "limit=101", "limit=-1", "limit=abc", "limit=1.5"] {
            assert!(limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_page_knows_whether_there_is_more() {
        let ids: Vec<ObjectId> = (0..3).map(|_| ObjectId::new()).collect();
        let page = Page::from_overfetch(ids.clone(), Limit(2), |id| *id);
        assert!(page.has_more);
        assert_eq!(page.data.len(), 2);
        assert_eq!(page.next_cursor, Some(ids[1].to_hex()));
        let page = Page::from_overfetch(ids, Limit(3), |id| *id);
        assert!(!page.has_more);
        assert_eq!(page.next_cursor, None);
    }
}
