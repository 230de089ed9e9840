# The usage printed on a usage error equals man/man1/tok-cat.1's SYNOPSIS (modulo whitespace),
# and every long option of the tool is documented in the page's OPTIONS (STYLE 7).
page=$QT_TEST_SRCDIR/../man/man1/tok-cat.1
usage=$($EXEC_PREFIX tok-cat --bogus 2>&1 | sed 1d | sed 's/^ *usage: //' | tr -d ' \n\t')
man=$(mandoc -Tascii "$page" | col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -d ' \n\t')
[ "$usage" = "$man" ] || { echo "usage: $usage"; echo "man:   $man"; exit 1; }
for o in $($EXEC_PREFIX tok-cat --help | grep -o -- '--[a-z-]*' | sort -u); do
	grep -q -- "^\.It Fl .*\\\\$o\\b" "$page" || grep -q -- "^\.It Fl \\\\${o#--}" "$page" ||
	grep -q -- "Fl \\\\-${o#--}" "$page" || { echo "$o not in OPTIONS"; exit 1; }
done
