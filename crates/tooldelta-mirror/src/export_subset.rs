//! Which tools and versions an export holds: everything, or the subset
//! `export --tool ID [--version V]...` names (an air-gapped site's bundle
//! carries only what its rollout needs).

use crate::export::ExportError;
use crate::store::{ToolIndex, VersionSel, latest_of};

/// The tools (and per tool the versions) an export writes. Empty: the whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `(tool id, versions)`; no versions means every stored version.
    tools: Vec<(String, Vec<String>)>,
}

impl Selection {
    /// Everything in the store.
    pub fn all() -> Self {
        Self::default()
    }

    /// Adds a tool (every version, unless versions follow).
    pub fn tool(&mut self, tool_id: &str) {
        self.tools.push((tool_id.to_owned(), Vec::new()));
    }

    /// Adds a version to the tool added last; `false` when no tool was added yet.
    pub fn version(&mut self, version: &str) -> bool {
        match self.tools.last_mut() {
            Some((_, versions)) => {
                versions.push(version.to_owned());
                true
            }
            None => false,
        }
    }

    /// Whether this is the whole store.
    pub fn is_all(&self) -> bool {
        self.tools.is_empty()
    }

    /// The catalog an export of this selection writes: only the named tools
    /// and versions, `latest` recomputed among them. A tool or version the
    /// store does not hold is an error (a bundle missing what a site needs
    /// is found at the HQ, not at the site).
    pub(crate) fn apply(&self, catalog: Vec<ToolIndex>) -> Result<Vec<ToolIndex>, ExportError> {
        if self.is_all() {
            return Ok(catalog);
        }
        let mut out: Vec<ToolIndex> = Vec::new();
        for (tool_id, wanted) in &self.tools {
            let Some(index) = catalog.iter().find(|t| t.tool_id == *tool_id) else {
                return Err(ExportError::NotInStore {
                    tool_id: tool_id.clone(),
                    version: None,
                });
            };
            let mut versions = pick_versions(index, wanted)?;
            if let Some(seen) = out.iter_mut().find(|t| t.tool_id == *tool_id) {
                versions.append(&mut seen.versions);
            }
            let mut parsed: Vec<(semver::Version, String)> = versions
                .into_iter()
                .filter_map(|v| match VersionSel::parse(&v) {
                    Some(VersionSel::Exact(p)) => Some((p, v)),
                    _ => None,
                })
                .collect();
            parsed.sort();
            parsed.dedup();
            let entry = ToolIndex {
                tool_id: tool_id.clone(),
                latest: latest_of(parsed.clone()),
                versions: parsed.into_iter().map(|(_, v)| v).collect(),
            };
            out.retain(|t| t.tool_id != *tool_id);
            out.push(entry);
        }
        out.sort_by(|a, b| a.tool_id.cmp(&b.tool_id));
        Ok(out)
    }
}

/// The stored spellings of the versions asked for (SemVer equality, so
/// `v1.0.0` finds `1.0.0`); all of them when none are asked for.
fn pick_versions(index: &ToolIndex, wanted: &[String]) -> Result<Vec<String>, ExportError> {
    if wanted.is_empty() {
        return Ok(index.versions.clone());
    }
    wanted
        .iter()
        .map(|want| {
            let missing = || ExportError::NotInStore {
                tool_id: index.tool_id.clone(),
                version: Some(want.clone()),
            };
            let Some(VersionSel::Exact(want_v)) = VersionSel::parse(want) else {
                return Err(missing());
            };
            index
                .versions
                .iter()
                .find(|v| matches!(VersionSel::parse(v), Some(VersionSel::Exact(p)) if p == want_v))
                .cloned()
                .ok_or_else(missing)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(id: &str, versions: &[&str]) -> ToolIndex {
        ToolIndex {
            tool_id: id.into(),
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
            latest: versions.last().map(|v| (*v).to_owned()),
        }
    }

    #[test]
    fn a_subset_keeps_only_the_named_versions_and_recomputes_latest() {
        let catalog = vec![
            index("a", &["1.0.0", "1.1.0", "2.0.0"]),
            index("b", &["0.1.0"]),
        ];
        let mut sel = Selection::all();
        sel.tool("a");
        assert!(sel.version("v1.1.0"));
        assert!(sel.version("1.0.0"));
        let got = sel.apply(catalog.clone()).unwrap();
        assert_eq!(got, vec![index("a", &["1.0.0", "1.1.0"])]);
        let mut missing = Selection::all();
        missing.tool("a");
        missing.version("3.0.0");
        assert!(matches!(
            missing.apply(catalog.clone()),
            Err(ExportError::NotInStore {
                version: Some(_),
                ..
            })
        ));
        assert_eq!(Selection::all().apply(catalog.clone()).unwrap(), catalog);
        assert!(!Selection::all().version("1.0.0"));
    }
}
