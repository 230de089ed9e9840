/* qlora-tools: ISC license. */
/* JSONL reader: plain, gzip, tar members, line numbers, bad UTF-8, overlong lines. */
#include "common/jsonl.h"

#include <stdlib.h>
#include <unistd.h>

#include "test.h"

static void write_text(const char *path, const char *s)
{
	FILE *fp = fopen(path, "wb");
	fputs(s, fp);
	fclose(fp);
}

static int rec_flags;  /* qt_jsonl_records flags for read_lines */

/* Reads every line; returns count of lines, stores last error status (0 if none). */
static int read_lines(const char *path, size_t max, char names[][128], unsigned long long *nums,
                      int *last_status)
{
	struct qt_err err;
	struct qt_jsonl *r = qt_jsonl_open(path, max, &err);
	*last_status = 0;
	if (!r) {
		*last_status = err.status;
		return -1;
	}
	qt_jsonl_records(r, rec_flags);
	int n = 0, rc;
	const char *line;
	size_t len;
	for (;;) {
		rc = qt_jsonl_next(r, &line, &len, &err);
		if (rc == 0)
			break;
		if (rc < 0) {
			*last_status = err.status;
			if (err.status != QT_EDATA)
				break;
			continue;
		}
		snprintf(names[n], 128, "%s:%llu:%s", qt_jsonl_name(r), qt_jsonl_lineno(r), line);
		nums[n] = qt_jsonl_lineno(r);
		n++;
	}
	qt_jsonl_close(r);
	return n;
}

int main(void)
{
	test_in_tmpdir();
	char names[16][128];
	unsigned long long nums[16];
	int st;
	const char *d = "qt_test_jsonl";
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", d, d);
	CHECK(system(cmd) == 0, "mkdir");

	write_text("qt_test_jsonl/a.jsonl", "{\"a\":1}\r\n\n{\"a\":2}\n{\"a\":3}");
	int n = read_lines("qt_test_jsonl/a.jsonl", 0, names, nums, &st);
	CHECK(n == 3 && st == 0, "plain: n=%d st=%d", n, st);
	CHECK(n == 3 && nums[1] == 3 && !strcmp(names[2], "qt_test_jsonl/a.jsonl:4:{\"a\":3}"),
	      "line numbers count blank lines: %s", n == 3 ? names[2] : "");

	CHECK(system("cd qt_test_jsonl && gzip -kc a.jsonl > a.jsonl.gz && "
	             "cp a.jsonl b.jsonl && tar cf ab.tar a.jsonl b.jsonl && xz -kc a.jsonl > a.jsonl.xz && "
	             "zstd -qc a.jsonl > a.jsonl.zst && zip -q ab.zip a.jsonl b.jsonl") == 0, "make archives");
	n = read_lines("qt_test_jsonl/a.jsonl.gz", 0, names, nums, &st);
	CHECK(n == 3 && st == 0, "gzip: n=%d", n);
	n = read_lines("qt_test_jsonl/a.jsonl.xz", 0, names, nums, &st);
	CHECK(n == 3 && st == 0, "xz: n=%d", n);
	n = read_lines("qt_test_jsonl/a.jsonl.zst", 0, names, nums, &st);
	CHECK(n == 3 && st == 0, "zstd: n=%d", n);
	n = read_lines("qt_test_jsonl/ab.tar", 0, names, nums, &st);
	CHECK(n == 6 && st == 0 && !strcmp(names[4], "qt_test_jsonl/ab.tar:b.jsonl:3:{\"a\":2}"),
	      "tar members: n=%d %s", n, n > 4 ? names[4] : "");
	n = read_lines("qt_test_jsonl/ab.zip", 0, names, nums, &st);
	CHECK(n == 6 && st == 0, "zip members: n=%d", n);

	write_text("qt_test_jsonl/bad.jsonl", "{\"a\":1}\n{\"a\":\"\xC3\x28\"}\n{\"a\":3}\n");
	n = read_lines("qt_test_jsonl/bad.jsonl", 0, names, nums, &st);
	CHECK(n == 2 && st == QT_EDATA && nums[1] == 3, "bad UTF-8 is skippable: n=%d st=%d", n, st);

	write_text("qt_test_jsonl/long.jsonl", "{\"a\":1}\n{\"a\":\"0123456789\"}\n{\"a\":3}\n");
	n = read_lines("qt_test_jsonl/long.jsonl", 12, names, nums, &st);
	CHECK(n == 2 && st == QT_EDATA && nums[1] == 3, "overlong line: n=%d st=%d", n, st);

	n = read_lines("qt_test_jsonl/missing.jsonl", 0, names, nums, &st);
	CHECK(n == -1 && st == QT_ENOINPUT, "missing file: st=%d", st);

	/* records: JSON arrays (elements numbered by their first line) and .txt members */
	rec_flags = QT_JSONL_ARRAYS | QT_JSONL_TXT;
	write_text("qt_test_jsonl/arr.json",
	           "\xEF\xBB\xBF [\n {\"a\": \"],[\\\"{\"},\n  {\"b\": [1, {\"c\": 2}]\n  }, \"s\",3\n,{}]  \n\n");
	n = read_lines("qt_test_jsonl/arr.json", 0, names, nums, &st);
	CHECK(n == 5 && st == 0 && !strcmp(names[0], "qt_test_jsonl/arr.json:2:{\"a\": \"],[\\\"{\"}") &&
	      !strcmp(names[1], "qt_test_jsonl/arr.json:3:{\"b\": [1, {\"c\": 2}]\n  }") &&
	      !strcmp(names[2], "qt_test_jsonl/arr.json:4:\"s\"") && nums[3] == 4 &&
	      !strcmp(names[4], "qt_test_jsonl/arr.json:5:{}"),
	      "array: n=%d st=%d [%s] [%s] [%s]", n, st, names[0], n > 1 ? names[1] : "",
	      n > 2 ? names[2] : "");
	write_text("qt_test_jsonl/open.json", "[{\"a\": 1},\n{\"b\": 2}\n");
	n = read_lines("qt_test_jsonl/open.json", 0, names, nums, &st);
	CHECK(n == 1 && st == QT_EDATA, "unterminated array: n=%d st=%d", n, st);
	write_text("qt_test_jsonl/t.txt", "one \"q\" \\ \t.\n\ntwo\nthree\n");
	n = read_lines("qt_test_jsonl/t.txt", 0, names, nums, &st);
	CHECK(n == 3 && !strcmp(names[0], "qt_test_jsonl/t.txt:1:\"one \\\"q\\\" \\\\ \\t.\"") &&
	      nums[1] == 3, "txt lines: n=%d [%s]", n, names[0]);
	rec_flags |= QT_JSONL_PARAGRAPHS;
	n = read_lines("qt_test_jsonl/t.txt", 0, names, nums, &st);
	CHECK(n == 2 && !strcmp(names[1], "qt_test_jsonl/t.txt:3:\"two\\nthree\"") && nums[0] == 1,
	      "txt paragraphs: n=%d [%s]", n, n > 1 ? names[1] : "");
	rec_flags = 0;
	n = read_lines("qt_test_jsonl/t.txt", 0, names, nums, &st);
	CHECK(n == 3 && !strcmp(names[2], "qt_test_jsonl/t.txt:4:three"), "records off: lines");

	size_t bad;
	CHECK(qt_utf8_valid("\xE4\xB8\xAD\xF0\x9F\x98\x80", 7, &bad), "valid CJK + emoji");
	CHECK(!qt_utf8_valid("\xED\xA0\x80", 3, &bad), "surrogate rejected");
	CHECK(!qt_utf8_valid("\xC0\xAF", 2, &bad), "overlong rejected");
	CHECK(!qt_utf8_valid("ab\xE4\xB8", 4, &bad) && bad == 2, "truncated sequence at 2");

	snprintf(cmd, sizeof cmd, "rm -rf %s", d);
	CHECK(system(cmd) == 0, "cleanup");
	return test_main_end();
}
