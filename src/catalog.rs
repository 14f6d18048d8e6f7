//! The metric catalog on the sidecar's side: reading the file (bounded), `cw-sidecar catalog
//! check FILE` and `catalog schema`, and what the pipeline takes of it: the contract the
//! catalog stage enforces and the metric rules its dimension sets make. The format, its
//! checks and the enforcement are pure, in [`cw_core::catalog`].

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use cw_core::catalog::contract::{Contract, rules};
use cw_core::catalog::{Catalog, MAX_CATALOG_BYTES, parse};
use cw_core::cost::rules::MetricRule;

/// Reads and checks the catalog at `path`: every error on a line of its own, as
/// `FILE:LINE: path: message`.
pub fn read(path: &Path) -> Result<Catalog, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut text = String::new();
    // One byte past the bound tells a file too large from one just at it.
    file.take(MAX_CATALOG_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    parse(&text).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| match e.line {
                0 => format!("{shown}: {e}"),
                n => format!("{shown}:{n}: {}", e.to_string().split_once(": ").map_or("", |(_, rest)| rest)),
            })
            .collect();
        lines.join("\n")
    })
}

/// The JSON Schema of the catalog (committed as `docs/catalog.schema.json`).
pub fn schema() -> String {
    let mut schema = schemars::schema_for!(Catalog);
    schema.insert("title".into(), "cw-sidecar metric catalog".into());
    serde_json::to_string_pretty(&schema).expect("a schema serializes") + "\n"
}

/// What the pipeline takes of a catalog: the contract, and the rules of its dimension sets.
pub fn enforced(catalog: &Catalog, default_dimensions: &[String]) -> (Arc<Contract>, Vec<MetricRule>) {
    let contract = Arc::new(Contract::new(catalog, default_dimensions.iter().cloned()));
    let made = rules(catalog).into_iter().enumerate().filter_map(|(i, (label, spec))| {
        let mut rule = MetricRule::new(i, spec).ok()?;
        rule.label = label;
        Some(rule)
    });
    (contract, made.collect())
}

/// A starting catalog (YAML) from `GET /v1/series` of a running sidecar: each metric with the
/// dimension sets its active series have. Units and kinds are not known from the series:
/// they read `None` and `gauge`, to be reviewed, and every description asks for one.
pub fn suggest(series: &serde_json::Value) -> Result<String, String> {
    let metrics = series["metrics"].as_array().ok_or("the answer has no `metrics` list")?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string).ok_or("a metric without a name or namespace");
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut namespaces: Vec<String> = metrics.iter().map(|m| text(&m["namespace"])).collect::<Result<_, _>>()?;
    namespaces.sort();
    namespaces.dedup();
    let mut out = String::from(
        "# A starting catalog from the series a running sidecar has seen (cw-sidecar catalog suggest).\n\
         # Review each metric's unit, kind and description; check with: cw-sidecar catalog check FILE\n",
    );
    let names: Vec<String> = namespaces.iter().map(|n| quoted(n)).collect();
    out += &format!("namespaces: [{}]\n\nmetrics:\n", names.join(", "));
    for m in metrics {
        let sets: Vec<Vec<String>> = serde_json::from_value(m["dimension_sets"].clone()).map_err(|e| e.to_string())?;
        let mut dims: Vec<&String> = sets.iter().flatten().collect();
        dims.sort();
        dims.dedup();
        out += &format!("  - name: {}\n", quoted(&text(&m["name"])?));
        if namespaces.len() > 1 {
            out += &format!("    namespace: {}\n", quoted(&text(&m["namespace"])?));
        }
        out += "    unit: None\n    kind: gauge\n";
        out += &format!(
            "    description: {}\n",
            quoted(&format!("{} active series seen; say what it measures.", m["series"]))
        );
        let list = |names: &mut dyn Iterator<Item = &String>| names.map(|n| quoted(n)).collect::<Vec<_>>().join(", ");
        out += &format!("    dimensions: [{}]\n", list(&mut dims.into_iter()));
        let sets: Vec<String> = sets.iter().map(|s| format!("[{}]", list(&mut s.iter()))).collect();
        out += &format!("    dimension_sets: [{}]\n", sets.join(", "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_schema_is_the_catalogs() {
        let committed = include_str!("../docs/catalog.schema.json");
        assert!(
            committed == schema(),
            "docs/catalog.schema.json is stale: cw-sidecar catalog schema > docs/catalog.schema.json"
        );
    }

    #[test]
    fn the_example_catalog_is_valid_and_its_errors_name_file_and_line() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("terraform/examples/complete/metrics.yaml");
        let catalog = read(&path).unwrap();
        assert!(catalog.metrics.len() >= 5);
        let dir = std::env::temp_dir().join(format!("cw-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.yaml");
        std::fs::write(
            &bad,
            "namespaces: [Demo]\nmetrics:\n  - {name: A, unit: Cont, kind: counter, description: x}\n",
        )
        .unwrap();
        let e = read(&bad).unwrap_err();
        assert_eq!(
            e,
            format!("{}:3: metrics[0].unit: `Cont` is not a CloudWatch unit (closest: `Count`)", bad.display())
        );
        std::fs::write(&bad, "#".repeat(MAX_CATALOG_BYTES + 10)).unwrap();
        assert!(read(&bad).unwrap_err().contains("at most"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
