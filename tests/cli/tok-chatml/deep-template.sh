# Hostile templates (issue 23): nesting 100000 deep (parentheses, {% if %} blocks, unary minus,
# lists, an attribute chain, a filter chain) and a macro that calls itself: each a clear 65 at
# once, no stack overflow (the parser and renderer recurse per level; these crashed with
# SIGSEGV, and lexing them took minutes: the line number was counted from the start per token).
T="$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json"
echo '{"messages":[{"role":"user","content":"hi"}]}' > r.jsonl
rep() { awk -v s="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'; }
N=100000
{ printf '{{ '; rep '(' $N; printf 1; rep ')' $N; echo ' }}'; } > paren.j
{ rep '{% if true %}' $N; printf x; rep '{% endif %}' $N; echo; } > ifs.j
{ printf '{{ '; rep '-' $N; echo '1 }}'; } > neg.j
{ printf '{{ '; rep '[' $N; rep ']' $N; echo ' }}'; } > list.j
{ printf '{{ a'; rep '.b' $N; echo ' }}'; } > attr.j
{ printf '{{ a'; rep '|trim' $N; echo ' }}'; } > filt.j
printf '{%% macro f(n) %%}{{ f(n) }}{%% endmacro %%}{{ f(1) }}' > rec.j
# 30 levels of everything still render
{ printf '{{ '; rep '(' 30; printf 1; rep ')' 30; echo ' }}'; } > ok.j
for t in paren ifs neg list attr filt rec ok; do
	$EXEC_PREFIX tok-chatml -t "$T" --template $t.j -o out.tok r.jsonl 2> err
	echo "$t: $? $(head -n 1 err)"
done
ls
