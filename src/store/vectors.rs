//! Page vectors: an embedding of each page's sentence ("text") and of its picture ("image"),
//! kept so the library can be searched by meaning and by picture.
//!
//! The store only keeps and scans numbers; which model made them is a name it compares, so a
//! vector from another model is treated as missing. Triggers (schema 4) delete a vector when
//! its sentence or picture changes, so whatever is stored is current.
//!
//! Search is a plain scan over one contiguous f32 matrix: at 100,000 pages of 384 numbers it
//! is 38 million multiply-adds, a few milliseconds, with nothing to keep in step (see `bench
//! library`). An approximate index would only pay off far beyond a personal library.

use rusqlite::params;

use super::{Library, Result, StoreError};

/// What a vector embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorKind {
    /// The page's sentence.
    Text,
    /// The page's picture.
    Image,
}

impl VectorKind {
    fn as_str(self) -> &'static str {
        match self {
            VectorKind::Text => "text",
            VectorKind::Image => "image",
        }
    }
}

/// Every stored vector of one kind and model, as rows of one matrix.
#[derive(Debug, Clone, Default)]
pub struct VectorIndex {
    pub page_ids: Vec<i64>,
    pub dim: usize,
    /// `page_ids.len()` rows of `dim` numbers.
    pub data: Vec<f32>,
}

impl VectorIndex {
    pub fn len(&self) -> usize {
        self.page_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.page_ids.is_empty()
    }

    /// Adds one row; a vector of another length than the first is refused.
    pub fn push(&mut self, page_id: i64, vector: &[f32]) -> Result<()> {
        if self.is_empty() {
            self.dim = vector.len();
        }
        if vector.len() != self.dim || vector.is_empty() {
            return Err(StoreError::Invalid(format!(
                "a vector of {} numbers does not fit an index of {}",
                vector.len(),
                self.dim
            )));
        }
        self.page_ids.push(page_id);
        self.data.extend_from_slice(vector);
        Ok(())
    }

    /// The `k` rows with the largest dot product with `query` (cosine, for unit vectors), best
    /// first, as (page id, score).
    pub fn top(&self, query: &[f32], k: usize) -> Vec<(i64, f32)> {
        if query.len() != self.dim || self.dim == 0 || k == 0 {
            return Vec::new();
        }
        let scores: Vec<f32> = self
            .data
            .chunks_exact(self.dim)
            .map(|row| dot(row, query))
            .collect();
        let mut order: Vec<usize> = (0..scores.len()).collect();
        let k = k.min(order.len());
        // Partial selection first: sorting all 100,000 scores costs more than the scan.
        if k < order.len() {
            order.select_nth_unstable_by(k, |&a, &b| scores[b].total_cmp(&scores[a]));
            order.truncate(k);
        }
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        order
            .into_iter()
            .map(|i| (self.page_ids[i], scores[i]))
            .collect()
    }
}

/// Eight independent sums, so the compiler can keep them in vector registers.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A page as a search result shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PageRef {
    pub book_id: i64,
    /// 1-based, as the user counts.
    pub page: usize,
    pub title: String,
    pub sentence: String,
}

impl Library {
    /// Pages with no current `kind` vector from `model`: (page id, sentence), at most `limit`.
    /// For pictures, only pages that have one.
    pub fn pages_without_vector(
        &self,
        kind: VectorKind,
        model: &str,
        limit: usize,
    ) -> Result<Vec<(i64, String)>> {
        let picture = if kind == VectorKind::Image {
            "AND EXISTS (SELECT 1 FROM images i WHERE i.page_id = p.id)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT p.id, p.sentence FROM pages p
             LEFT JOIN vectors v ON v.page_id = p.id AND v.kind = ?1 AND v.model = ?2
             WHERE v.page_id IS NULL {picture} ORDER BY p.id LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![kind.as_str(), model, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// How many pages [`Self::pages_without_vector`] would list, for progress.
    pub fn count_without_vector(&self, kind: VectorKind, model: &str) -> Result<usize> {
        let picture = if kind == VectorKind::Image {
            "AND EXISTS (SELECT 1 FROM images i WHERE i.page_id = p.id)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT count(*) FROM pages p
             LEFT JOIN vectors v ON v.page_id = p.id AND v.kind = ?1 AND v.model = ?2
             WHERE v.page_id IS NULL {picture}"
        );
        let n: i64 = self
            .conn
            .query_row(&sql, params![kind.as_str(), model], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// A page's picture by page id, if it has one.
    pub fn picture_of(&self, page_id: i64) -> Result<Option<Vec<u8>>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT png FROM images WHERE page_id = ?1",
                [page_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores vectors in one transaction. A page deleted meanwhile is skipped, not an error, and
    /// so is a text vector whose page's sentence changed since it was read (`source`): the
    /// trigger that drops stale vectors cannot see one that is written after the change.
    pub fn put_vectors(
        &mut self,
        kind: VectorKind,
        model: &str,
        rows: &[(i64, Option<String>, Vec<f32>)],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO vectors (page_id, kind, model, data)
                 SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM pages WHERE id = ?1
                     AND (?5 IS NULL OR sentence = ?5))",
            )?;
            for (page_id, source, v) in rows {
                stmt.execute(params![page_id, kind.as_str(), model, to_blob(v), source])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every `kind` vector from `model` that has `dim` numbers, as one matrix.
    pub fn vector_index(&self, kind: VectorKind, model: &str, dim: usize) -> Result<VectorIndex> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT page_id, data FROM vectors WHERE kind = ?1 AND model = ?2 ORDER BY page_id",
        )?;
        let mut rows = stmt.query(params![kind.as_str(), model])?;
        let mut index = VectorIndex::default();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let blob = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            // A row of another length (a damaged or foreign file) is skipped, not fatal.
            if dim > 0 && blob.len() == dim * 4 {
                index.push(id, &from_blob(blob))?;
            }
        }
        Ok(index)
    }

    /// Where each page id is, for showing results, in the order given; ids of deleted pages
    /// are left out.
    pub fn page_refs(&self, page_ids: &[i64]) -> Result<Vec<(i64, PageRef)>> {
        use rusqlite::OptionalExtension;
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.book_id, p.position, b.title, p.sentence
             FROM pages p JOIN books b ON b.id = p.book_id WHERE p.id = ?1",
        )?;
        let mut out = Vec::with_capacity(page_ids.len());
        for id in page_ids {
            let found = stmt
                .query_row([id], |r| {
                    Ok(PageRef {
                        book_id: r.get(0)?,
                        page: r.get::<_, i64>(1)? as usize + 1,
                        title: r.get(2)?,
                        sentence: r.get(3)?,
                    })
                })
                .optional()?;
            out.extend(found.map(|f| (*id, f)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_returns_the_best_rows_first_with_ties_in_insertion_order() {
        let mut index = VectorIndex::default();
        for (id, v) in [
            (7, [1.0, 0.0]),
            (3, [0.0, 1.0]),
            (9, [0.6, 0.8]),
            (4, [1.0, 0.0]),
        ] {
            index.push(id, &v).unwrap();
        }
        assert_eq!(
            index.top(&[1.0, 0.0], 3),
            vec![(7, 1.0), (4, 1.0), (9, 0.6)]
        );
        assert_eq!(index.top(&[1.0, 0.0], 10).len(), 4);
        assert!(index.top(&[1.0], 3).is_empty(), "a query of another length");
        assert!(index.push(1, &[1.0, 2.0, 3.0]).is_err());
    }

    #[test]
    fn dot_matches_a_plain_sum_at_odd_lengths() {
        for n in [1, 7, 8, 9, 384, 385] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - plain).abs() < 1e-4, "n = {n}");
        }
        assert_eq!(from_blob(&to_blob(&[1.5, -2.25])), vec![1.5, -2.25]);
    }
}
