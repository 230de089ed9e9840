#!/bin/sh
# A real full disk (issue 23), beside the injector's sweeps: every tool that writes files runs
# with its output on a small tmpfs, at sizes from one page up to one that holds it. Each run must
# exit 0 (it fitted) or 74 naming the output, and a run that fails leaves the tmpfs as it found it:
# empty, or holding the previous output (a run that fitted before) byte for byte.
# Needs root (mount); not part of make test. Run from the top of the tree after make:
#   sh tests/faultinj/tmpfs.sh         prints a line per tool and "N runs, N failed"
top=$(pwd) B=$top/bin D=$top/tests/data
[ "$(id -u)" = 0 ] || { echo "tmpfs.sh: needs root to mount a tmpfs" >&2; exit 77; }
mnt=$(mktemp -d) work=$(mktemp -d)
trap 'umount "$mnt" 2>/dev/null; rmdir "$mnt"; rm -rf "$work"' EXIT
runs=0 bad=0
# try NAME PATTERN cmd...: the output made once on a large tmpfs (the previous output); then at
# each size, cmd (its output under $mnt) from nothing and over the previous output, up to the
# size where both fit
try() {
	name=$1 pat=$2
	shift 2
	umount "$mnt" 2>/dev/null
	mount -t tmpfs -o size=256m tmpfs "$mnt" || exit 1
	(cd "$work" && "$@") > /dev/null 2> "$work/err" || {
		echo "$name: fails on a large tmpfs: $(head -n 1 "$work/err")"; bad=$((bad + 1)); return; }
	rm -rf "$work/prev"; mkdir "$work/prev"; cp -a "$mnt/." "$work/prev/"
	fit=
	for kb in 4 8 16 32 64 96 128 192 256 384 512 768 1024 1536 2048 3072 4096 8192; do
		ok=0
		for start in empty prev; do
			umount "$mnt" 2>/dev/null
			mount -t tmpfs -o size=${kb}k tmpfs "$mnt" || exit 1
			if [ $start = prev ] && ! cp -a "$work/prev/." "$mnt/" 2>/dev/null; then
				continue  # no room for the previous output itself
			fi
			before=$(cd "$mnt" && find . -type f -exec cksum {} + | sort)
			(cd "$work" && "$@") > /dev/null 2> "$work/err"
			rc=$?
			runs=$((runs + 1))
			if [ $rc -eq 0 ]; then
				ok=$((ok + 1))
				[ $start = empty ] && [ -z "$fit" ] && fit=$kb
				continue
			fi
			what=
			[ $rc -eq 74 ] || what="exit $rc"
			grep -Eq "$pat" "$work/err" || what="$what, stderr does not name the output"
			now=$(cd "$mnt" && find . -type f -exec cksum {} + | sort)
			{ [ "$now" = "$before" ] && ! (cd "$mnt" && find . -name '*.tmp.*' | grep -q .); } ||
				what="$what, left: $(cd "$mnt" && find . -mindepth 1 | head -n 3 | tr '\n' ' ')"
			if [ -n "$what" ]; then
				echo "$name: ${kb}k from ${start}: $what: $(head -n 1 "$work/err")"
				bad=$((bad + 1))
			fi
		done
		[ $ok -eq 2 ] && break
	done
	echo "$name: fits in ${fit}k from nothing, ${kb}k over its previous output"
}
printf '%s\n' '{"content":"hello","summary":"hi"}' > "$work/p.jsonl"
T=$D/tokenizer/smollm2/tokenizer.json
try pack '(out|va)\.pack' "$B/pack" -q --seq-len 16 --val-count 3 --val-out "$mnt/va.pack" -o "$mnt/out.pack" \
	"$D/pack/a.tok" "$D/pack/c.tok"
try tok-chatml 'out\.tok' "$B/tok-chatml" -q -t "$T" --format text -o "$mnt/out.tok" "$D/chatml/text.jsonl"
try quantize-nf4 "$mnt/out" "$B/quantize-nf4" -q -o "$mnt/out" "$D/nf4-model/src"
try lora-merge "$mnt/out" "$B/lora-merge" -q -m "$D/lora/base" -a "$D/lora/peft-r8" -o "$mnt/out"
try import-gguf "$mnt/model" "$B/import-gguf" -q -o "$mnt/model" "$D/gguf/tiny-llama.gguf"
try export-gguf 'm\.gguf' "$B/export-gguf" -q --type q8_0 -o "$mnt/m.gguf" "$D/export/tiny"
try gen 'out\.jsonl' "$B/gen" -q -m "$D/gen/tiny" --prompt-key content --max-new-tokens 4 \
	-o "$mnt/out.jsonl" p.jsonl
try rouge-zh '(out\.json|per\.jsonl)' "$B/rouge-zh" --hyp "$top/tests/cli/rouge-zh/hyp.txt" \
	--ref "$top/tests/cli/rouge-zh/ref.txt" --per-sample "$mnt/per.jsonl" -o "$mnt/out.json"
echo "$runs runs, $bad failed"
[ $bad -eq 0 ]
