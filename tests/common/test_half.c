/* qlora-tools: ISC license. */
/* common/half: f32 -> f16/bf16 against torch, every f16 pattern -> f32 against numpy,
 * NaN handling, and the f16 round trip. Goldens from tests/ref/half.py. */
#include "common/half.h"
#include "common/io.h"
#include "common/le.h"

#include "test.h"

int main(void)
{
	char path[4096], *buf;
	size_t len;
	struct qt_err err;
	snprintf(path, sizeof path, "%s/data/half/golden.bin", test_srcdir());
	if (qt_read_file(path, &buf, &len, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return test_main_end();
	}
	const uint8_t *b = (const uint8_t *)buf;
	CHECK(len >= 12 && memcmp(b, "QTHALF01", 8) == 0, "bad golden header");
	uint32_t n = le32_load(b + 8);
	CHECK(len == 12 + (size_t)n * 8 + 65536 * 4, "golden size %zu", len);
	const uint8_t *in = b + 12, *g16 = in + 4 * (size_t)n, *gbf = g16 + 2 * (size_t)n;
	const uint8_t *gall = gbf + 2 * (size_t)n;

	size_t bad16 = 0, badbf = 0, badall = 0;
	for (uint32_t i = 0; i < n; i++) {
		float f = qt_bits_f32(le32_load(in + 4 * (size_t)i));
		uint16_t h = qt_f32_to_f16(f), bf = qt_f32_to_bf16(f);
		if (h != le16_load(g16 + 2 * (size_t)i) && bad16++ < 5)
			fprintf(stderr, "f16(%a) = %04x, torch %04x\n", f, h, le16_load(g16 + 2 * (size_t)i));
		if (bf != le16_load(gbf + 2 * (size_t)i) && badbf++ < 5)
			fprintf(stderr, "bf16(%a) = %04x, torch %04x\n", f, bf, le16_load(gbf + 2 * (size_t)i));
	}
	CHECK(bad16 == 0, "%zu of %u f32->f16 differ from torch", bad16, n);
	CHECK(badbf == 0, "%zu of %u f32->bf16 differ from torch", badbf, n);

	size_t roundtrip = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		uint32_t want = le32_load(gall + 4 * (size_t)h);
		uint32_t got = qt_f32_bits(qt_f16_to_f32((uint16_t)h));
		int is_nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF);
		/* numpy may quiet a signalling NaN; compare NaNs by class and sign only */
		if (is_nan ? !(isnan(qt_bits_f32(got)) && (got >> 31) == (want >> 31)) : got != want)
			if (badall++ < 5)
				fprintf(stderr, "f32(f16 %04x) = %08x, numpy %08x\n", h, got, want);
		if (!is_nan && qt_f32_to_f16(qt_f16_to_f32((uint16_t)h)) != h)
			roundtrip++;
	}
	CHECK(badall == 0, "%zu f16 patterns convert differently from numpy", badall);
	CHECK(roundtrip == 0, "%zu f16 values do not round-trip through f32", roundtrip);

	/* NaN: torch's canonical quiet NaNs */
	CHECK(qt_f32_to_bf16(qt_bits_f32(0x7F800001u)) == 0x7FC0, "bf16 sNaN");
	CHECK(qt_f32_to_bf16(qt_bits_f32(0xFFC00000u)) == 0x7FC0, "bf16 -NaN");
	CHECK(qt_f32_to_f16(qt_bits_f32(0x7F800001u)) == 0x7E00, "f16 sNaN");
	CHECK(qt_f32_to_f16(qt_bits_f32(0xFFC00000u)) == 0xFE00, "f16 -NaN");
	CHECK(isnan(qt_bf16_to_f32(0x7FC0)), "bf16 NaN -> f32");
	CHECK(qt_bf16_to_f32(0x3F80) == 1.0f && qt_f16_to_f32(0x3C00) == 1.0f, "one");

	/* row helpers agree with the scalar ones */
	float row[4] = { 1.5f, -2.25f, 1e-6f, 70000.0f };
	uint16_t h16[4], hb[4];
	float back[4];
	qt_f32_to_f16_row(row, h16, 4);
	qt_f32_to_bf16_row(row, hb, 4);
	int ok = 1;
	for (int i = 0; i < 4; i++)
		ok &= h16[i] == qt_f32_to_f16(row[i]) && hb[i] == qt_f32_to_bf16(row[i]);
	qt_f16_to_f32_row(h16, back, 4);
	ok &= back[0] == 1.5f && back[1] == -2.25f && isinf(back[3]);
	qt_bf16_to_f32_row(hb, back, 4);
	ok &= back[0] == 1.5f && back[1] == -2.25f;
	CHECK(ok, "row conversions");
	free(buf);
	return test_main_end();
}
