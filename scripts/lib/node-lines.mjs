// The Node release lines a range like package.json's `engines.node` names: "^22 || ^24 || >= 26"
// gives ['22', '24', '26'] (an open range counts its first line: later ones cannot be tested yet).
export function nodeLines(range) {
  const lines = range.split('||').map((part) => {
    const found = /^\s*(?:\^|>=\s*|~)?(\d+)(?:\.\d+){0,2}\s*$/.exec(part)
    if (found === null) throw new Error(`cannot read a Node line from "${part.trim()}" in engines.node "${range}"`)
    return found[1]
  })
  return [...new Set(lines)]
}
