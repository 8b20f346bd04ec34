// Writes a Prometheus rule file ({groups: [...]}) as readable YAML: fields in the order
// Prometheus documents them, multi-line expressions as literal blocks, descriptions folded at
// about 100 columns, and the hidden `comment::` fields of the file, its groups and rules as
// YAML comments. jsonnet 0.18's std.manifestYamlDoc sorts keys and cannot write comments.
// The output parses to exactly the rule objects (scripts/test-alerts.sh compares them).
local width = 100;

local isMultiLine(s) = std.length(std.findSubstr('\n', s)) > 0;

// A plain (unquoted) scalar is safe when YAML cannot read it as anything but this string.
local isPlainSafe(s) =
  std.length(s) > 0
  && std.length(std.findSubstr(s[0], '-?:,[]{}#&*!|>\'"%@` ')) == 0
  && std.length(std.findSubstr(': ', s)) == 0
  && std.length(std.findSubstr(' #', s)) == 0
  && s[std.length(s) - 1] != ':'
  && s[std.length(s) - 1] != ' '
  && !isMultiLine(s)
  && !std.member(['true', 'false', 'null', 'yes', 'no', 'on', 'off', '~'], std.asciiLower(s))
  && std.length(std.stripChars(s, '0123456789.+-eE_')) > 0;

local quoted(s) = std.escapeStringJson(s);
local scalar(s) = if isPlainSafe(s) then s else quoted(s);
local pad(n) = std.repeat(' ', n);

local comment(text, indent) =
  if text == null then ''
  else std.join('', [
    pad(indent) + (if line == '' then '#' else '# ' + line) + '\n'
    for line in std.split(std.rstripChars(text, '\n'), '\n')
  ]);

// The words of `s` split at single spaces, except inside a template action `{{ ... }}`, which
// stays on one line.
local count(pat, s) = std.length(std.findSubstr(pat, s));
local words(s) = std.foldl(
  function(acc, word)
    if std.length(acc) > 0
       && count('{{', acc[std.length(acc) - 1]) > count('}}', acc[std.length(acc) - 1])
    then acc[:std.length(acc) - 1] + [acc[std.length(acc) - 1] + ' ' + word]
    else acc + [word],
  std.split(s, ' '),
  []
);

// Greedy word wrap: the words of `s` on lines of at most `w` columns (longer words alone).
local wrap(s, w) = std.foldl(
  function(lines, word)
    if std.length(lines) == 0 then [word]
    else
      local last = lines[std.length(lines) - 1];
      if std.length(last) + 1 + std.length(word) <= w
      then lines[:std.length(lines) - 1] + [last + ' ' + word]
      else lines + [word],
  words(s),
  []
);

// key: value at `indent`, choosing the block style by the value's shape.
local field(key, value, indent, fold=false) =
  local prefix = pad(indent) + key + ':';
  if isMultiLine(value) then
    local chomp = if std.endsWith(value, '\n') then '|' else '|-';
    prefix + ' ' + chomp + '\n' + std.join('', [
      (if line == '' then '' else pad(indent + 2) + line) + '\n'
      for line in std.split(std.rstripChars(value, '\n'), '\n')
    ])
  // Folding turns each line break back into one space: only for single-spaced text.
  else if fold && std.length(std.findSubstr('  ', value)) == 0 && value[0] != ' '
          && value[std.length(value) - 1] != ' ' then
    prefix + ' >-\n' + std.join('', [
      pad(indent + 2) + line + '\n'
      for line in wrap(value, width - indent - 2)
    ])
  else prefix + ' ' + scalar(value) + '\n';

// Annotations in the order a reader wants them; anything else after, sorted.
local first = ['summary', 'description', 'runbook_url'];
local ordered(obj) =
  [k for k in first if std.objectHas(obj, k)]
  + [k for k in std.objectFields(obj) if !std.member(first, k)];

local mapping(key, obj, indent, quote) =
  if std.length(std.objectFields(obj)) == 0 then ''
  else pad(indent) + key + ':\n' + std.join('', [
    if k == 'description' then field(k, obj[k], indent + 2, fold=true)
    else if quote then pad(indent + 2) + k + ': ' + quoted(obj[k]) + '\n'
    else field(k, obj[k], indent + 2)
    for k in ordered(obj)
  ]);

local rule(r) =
  local kind = if std.objectHas(r, 'alert') then 'alert' else 'record';
  local known = [kind, 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'];
  local unknown = [k for k in std.objectFields(r) if !std.member(known, k)];
  assert std.length(unknown) == 0 : 'rule %s: unsupported fields %s' % [r[kind], unknown];
  '      - ' + kind + ': ' + scalar(r[kind]) + '\n'
  + comment(std.get(r, 'comment', null), 8)
  + field('expr', r.expr, 8)
  + (if std.objectHas(r, 'for') then field('for', r['for'], 8) else '')
  + (if std.objectHas(r, 'keep_firing_for') then field('keep_firing_for', r.keep_firing_for, 8) else '')
  + mapping('labels', std.get(r, 'labels', {}), 8, false)
  + mapping('annotations', std.get(r, 'annotations', {}), 8, true);

{
  // manifest(rules) -> the rule file's text; `rules` is a prometheusAlerts/prometheusRules value.
  manifest(rules)::
    local text =
    comment(std.get(rules, 'comment', null), 0) + '\ngroups:\n'
    + std.join('\n', [
      '  - name: ' + scalar(g.name) + '\n'
      + comment(std.get(g, 'comment', null), 4)
      + (if std.objectHas(g, 'interval') then '    interval: ' + scalar(g.interval) + '\n' else '')
      + '    rules:\n'
      + std.join('\n', [rule(r) for r in g.rules])
      for g in rules.groups
    ]);
    // jsonnet -S ends the output with a newline of its own.
    std.substr(text, 0, std.length(text) - 1),
}
