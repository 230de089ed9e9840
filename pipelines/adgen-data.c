/* qlora-tools: ISC license. */
/*
 * Generator of the demo dataset: Chinese product descriptions in the ADGEN shape
 * {"content": "类型#上衣*颜色#白色*...", "summary": "..."}, one JSON object per line.
 *
 *   adgen-data SEED COUNT > data.jsonl
 *
 * Each record draws a category, a few attribute values and one of several description
 * templates; the summary is a deterministic function of those draws, so a model can learn the
 * mapping from attributes to text in a few hundred steps. The stream depends only on SEED
 * (xoshiro256** from common/rng.c), so every machine makes the same file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

#define N(a) (sizeof(a) / sizeof *(a))

static const char *colors[]    = { "白色", "黑色", "红色", "蓝色", "灰色", "粉色", "绿色", "卡其色", "藏青色", "米色" };
static const char *styles[]    = { "简约", "复古", "文艺", "街头", "通勤", "甜美", "休闲", "优雅" };
static const char *materials[] = { "棉", "牛仔布", "雪纺", "针织", "羊毛", "真丝", "麻", "涤纶" };
static const char *patterns[]  = { "纯色", "条纹", "格子", "印花", "刺绣", "波点", "字母" };
static const char *fits[]      = { "宽松", "修身", "直筒", "收腰" };

struct category {
	const char *type;      /* 类型 value */
	const char *kinds[5];  /* the item's style attribute values */
	const char *kind_key;  /* attribute name of kinds */
	const char *part;      /* a detail the descriptions mention */
	const char *effect;    /* what the detail does */
};

static const struct category cats[] = {
	{ "上衣", { "衬衫", "T恤", "卫衣", "毛衣", "外套" }, "衣样式", "领口", "修饰脸型" },
	{ "裤",   { "阔腿裤", "牛仔裤", "休闲裤", "西装裤", "哈伦裤" }, "裤型", "裤脚", "拉长腿部线条" },
	{ "裙",   { "连衣裙", "半身裙", "百褶裙", "a字裙", "吊带裙" }, "裙型", "裙摆", "增添灵动感" },
	{ "鞋",   { "帆布鞋", "运动鞋", "小白鞋", "乐福鞋", "短靴" }, "鞋款", "鞋底", "舒适防滑" },
	{ "包",   { "托特包", "斜挎包", "双肩包", "手提包", "水桶包" }, "包型", "肩带", "减轻负担" },
};

static const char *pick(struct qt_rng *r, const char **a, size_t n) { return a[qt_rng_below(r, n)]; }

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: adgen-data SEED COUNT\n");
		return 64;
	}
	struct qt_rng r;
	qt_rng_seed(&r, strtoull(argv[1], NULL, 10));
	long count = strtol(argv[2], NULL, 10);
	for (long i = 0; i < count; i++) {
		const struct category *c = &cats[qt_rng_below(&r, N(cats))];
		const char *kind = c->kinds[qt_rng_below(&r, 5)];
		const char *color = pick(&r, colors, N(colors));
		const char *style = pick(&r, styles, N(styles));
		const char *mat = pick(&r, materials, N(materials));
		const char *pat = pick(&r, patterns, N(patterns));
		const char *fit = pick(&r, fits, N(fits));
		char content[512], summary[1024];
		snprintf(content, sizeof content, "类型#%s*颜色#%s*风格#%s*材质#%s*图案#%s*%s#%s",
		         c->type, color, style, mat, pat, c->kind_key, kind);
		switch (qt_rng_below(&r, 4)) {
		case 0:
			snprintf(summary, sizeof summary,
			         "这款%s%s采用%s面料，%s的设计风格，%s图案简洁大方。%s的%s设计，%s，%s版型穿着舒适自在。",
			         color, kind, mat, style, pat, c->part[0] ? "独特" : "", c->part, c->effect, fit);
			break;
		case 1:
			snprintf(summary, sizeof summary,
			         "%s风格的%s，选用%s材质，触感柔软。%s的配色搭配%s元素，%s设计%s，尽显%s气质。",
			         style, kind, mat, color, pat, c->part, c->effect, style);
			break;
		case 2:
			snprintf(summary, sizeof summary,
			         "%s%s，%s面料亲肤透气。经典%s图案，%s版型，%s细节%s，日常出行轻松驾驭。",
			         color, kind, mat, pat, fit, c->part, c->effect);
			break;
		default:
			snprintf(summary, sizeof summary,
			         "一款%s的%s%s，%s材质舒适耐穿，%s图案点缀其间，%s处的设计%s，%s又不失时尚感。",
			         style, color, kind, mat, pat, c->part, c->effect, fit);
			break;
		}
		printf("{\"content\": \"%s\", \"summary\": \"%s\"}\n", content, summary);
	}
	return ferror(stdout) || fflush(stdout) ? 74 : 0;
}
