# For every tool (STYLE 7): the usage printed on a usage error equals the SYNOPSIS of its man
# page (modulo whitespace); every long option the tool accepts (its --help) is documented in
# the page, and every option the page's OPTIONS list is in --help; -h prints the help on
# stdout and exits 0, -V the version.
top=$(dirname "$QT_TEST_SRCDIR")
fail=0
for page in "$top"/man/man1/*.1; do
	t=$(basename "$page" .1)
	usage=$($EXEC_PREFIX $t --bogus-option 2>&1 | sed 1d | sed 's/^ *usage: //' | tr -d ' \n\t')
	man=$(mandoc -Tascii "$page" | col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -d ' \n\t')
	[ "$usage" = "$man" ] || { echo "$t: usage: $usage"; echo "$t: man:   $man"; fail=1; }
	$EXEC_PREFIX $t --help > help.txt 2>&1 || { echo "$t: --help exits $?"; fail=1; }
	for o in $(grep -o -- '--[a-z][a-z0-9-]*' help.txt | sort -u); do
		grep -q -- "Fl \\\\*-${o#--}\\b" "$page" || { echo "$t: $o not in $t.1"; fail=1; }
	done
	for o in $(sed -n '/^\.Sh OPTIONS/,/^\.Sh /p;/^\.Sh DESCRIPTION/,/^\.Sh /p' "$page" | grep '^\.It Fl' |
	           grep -o 'Fl \\*-[a-z][a-z0-9-]*' | sed 's/Fl \\*-/--/' | sort -u); do
		grep -q -- "$o\\b" help.txt || { echo "$t: $o of $t.1 not in --help"; fail=1; }
	done
	$EXEC_PREFIX $t -h > h.txt 2>&1 || { echo "$t: -h exits $?"; fail=1; }
	cmp -s h.txt help.txt || { echo "$t: -h differs from --help"; fail=1; }
	v=$($EXEC_PREFIX $t -V 2>&1) || { echo "$t: -V exits $?"; fail=1; }
	[ "$v" = "$($EXEC_PREFIX $t --version)" ] || { echo "$t: -V: $v"; fail=1; }
done
exit $fail
