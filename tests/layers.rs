//! The layers of `src/`: no import cycle among its modules, and the generic parts and the leaves
//! know nothing of the store or the operations. Read from the source, as a maintainer reads it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Each top-level module of `src/` and the modules of the crate it names (`crate::x`), test
/// modules left out.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
  let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
  let mut texts: BTreeMap<String, String> = BTreeMap::new();
  let mut pending = vec![src.clone()];
  while let Some(dir) = pending.pop() {
    for entry in fs::read_dir(&dir).unwrap() {
      let path = entry.unwrap().path();
      if path.is_dir() {
        pending.push(path);
        continue;
      }
      if path.extension().is_none_or(|ext| ext != "rs") {
        continue;
      }
      let relative = path.strip_prefix(&src).unwrap();
      let top = relative.components().next().unwrap().as_os_str().to_string_lossy();
      let module = top.trim_end_matches(".rs").to_string();
      let text = fs::read_to_string(&path).unwrap();
      let code = text.split("#[cfg(test)]\nmod tests {").next().unwrap().to_string();
      texts.entry(module).or_default().push_str(&code);
    }
  }
  let modules: BTreeSet<String> = texts.keys().cloned().collect();
  texts
    .iter()
    .map(|(module, text)| {
      let named = text
        .match_indices("crate::")
        .map(|(at, _)| {
          text[at + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<String>()
        })
        .filter(|name| name != module && modules.contains(name))
        .collect();
      (module.clone(), named)
    })
    .collect()
}

/// The modules `module` reaches through its imports, itself excluded unless through a cycle.
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, module: &str) -> BTreeSet<String> {
  let mut seen = BTreeSet::new();
  let mut pending: Vec<&String> = graph[module].iter().collect();
  while let Some(next) = pending.pop() {
    if seen.insert(next.clone()) {
      pending.extend(graph[next].iter());
    }
  }
  seen
}

#[test]
fn no_module_of_src_reaches_itself_through_its_imports() {
  let graph = imports();
  assert!(graph.len() > 10, "the modules of src/ were not found: {graph:?}");
  let cyclic: Vec<&String> = graph
    .keys()
    .filter(|module| reachable(&graph, module).contains(*module))
    .collect();
  assert!(cyclic.is_empty(), "modules in an import cycle: {cyclic:?}\n{graph:#?}");
}

#[test]
fn the_generic_parts_and_the_leaves_import_no_store_and_no_operation() {
  let graph = imports();
  let upper = [
    "store", "sessions", "kv", "database", "adapter", "schema", "retry", "pool",
  ];
  for module in [
    "coalesce",
    "turns",
    "calls",
    "error",
    "op",
    "metrics",
    "statement",
    "jsonb",
    "time",
  ] {
    let reached = reachable(&graph, module);
    for forbidden in upper {
      assert!(
        !reached.contains(forbidden),
        "{module} reaches {forbidden}: {:?}",
        graph[module]
      );
    }
  }
  assert!(graph["op"].is_empty(), "op.rs is a leaf: {:?}", graph["op"]);
  assert_eq!(graph["error"], BTreeSet::from(["op".to_string()]));
}
