# formats/ holds only file formats, each with its page: every formats/<name>[_<part>].{c,h} and
# formats/<name>/ belongs to a man/man5/<name>.5 (file names with underscores, page names with
# hyphens: formats/lora_checkpoint.c <-> lora-checkpoint.5), and every man5 page has its
# formats/<name>.c or formats/<name>/. Code that is not a file format lives elsewhere (HACKING.md).
set -eu
top=$(dirname "$QT_TEST_SRCDIR")
cd "$top"
pages=$(cd man/man5 && ls *.5 | sed 's/\.5$//')
bad=0
for f in $(cd formats && ls); do
	n=$(echo "${f%.*}" | tr _ -)
	ok=0
	for p in $pages; do
		case "$n" in "$p"|"$p"-*) ok=1 ;; esac
	done
	[ $ok = 1 ] || { echo "formats/$f: no man/man5 page for it" >&2; bad=1; }
done
for p in $pages; do
	m=$(echo "$p" | tr - _)
	[ -f "formats/$m.c" ] || [ -d "formats/$m" ] || { echo "man5/$p.5: no formats/$m.c" >&2; bad=1; }
done
exit $bad
