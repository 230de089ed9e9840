/* qlora-tools: ISC license. */
/* The projection MLP of a prefix-tuning adapter; see adapter.h and adapter(5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/adapter.h"
#include "formats/safetensors.h"

const char *const adapter_mlp_names[ADAPTER_MLP_N] = {
	"embedding.weight", "transform.0.weight", "transform.0.bias", "transform.2.weight",
	"transform.2.bias",
};

float *adapter_mlp_tensor(const struct prefix_mlp *m, int i, int64_t shape[2])
{
	static const int rows[ADAPTER_MLP_N] = { 0, 1, 1, 2, 2 }; /* P, H, W */
	int64_t r = rows[i] == 0 ? m->P : rows[i] == 1 ? m->H : m->W;
	int64_t c = i == 0 ? m->D : i == 1 ? m->D : i == 3 ? m->H : 0;
	shape[0] = r;
	shape[1] = c;
	float *const p[ADAPTER_MLP_N] = { m->emb, m->w1, m->b1, m->w2, m->b2 };
	return p[i];
}

int adapter_mlp_is_bias(int i)
{
	return i == 2 || i == 4;
}

int adapter_mlp_init(struct adapter *a, int H, struct qt_err *err)
{
	struct prefix_mlp *m = &a->mlp;
	int P = a->prefix_len, D = a->dims.kv_dim, W = (int)adapter_prefix_width(&a->dims);
	size_t n = (size_t)P * D + (size_t)H * D + (size_t)H + (size_t)W * H + (size_t)W;
	free(m->emb);
	*m = (struct prefix_mlp){ .P = P, .D = D, .H = H, .W = W };
	if (!(m->emb = calloc(n, sizeof(float))))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	m->w1 = m->emb + (size_t)P * D;
	m->b1 = m->w1 + (size_t)H * D;
	m->w2 = m->b1 + H;
	m->b2 = m->w2 + (size_t)W * H;
	a->cfg.prefix_projection = 1;
	a->cfg.prefix_hidden = H;
	return QT_OK;
}

int adapter_mlp_save(const struct adapter *a, const char *path, struct qt_err *err)
{
	struct st_spec specs[ADAPTER_MLP_N];
	for (int i = 0; i < ADAPTER_MLP_N; i++) {
		int64_t sh[2];
		specs[i] = (struct st_spec){ .name = adapter_mlp_names[i], .dtype = QT_DTYPE_F32 };
		specs[i].data = adapter_mlp_tensor(&a->mlp, i, sh);
		specs[i].n_dims = sh[1] ? 2 : 1;
		specs[i].shape[0] = sh[0];
		specs[i].shape[1] = sh[1];
	}
	struct st_kv meta = { "format", "pt" };
	return st_write_file(path, specs, ADAPTER_MLP_N, &meta, 1, err);
}

int adapter_mlp_load(struct adapter *a, const char *path, struct qt_err *err)
{
	struct st_file f;
	int st = st_open(&f, path, err);
	if (st)
		return st;
	const struct st_tensor *t = st_find(&f, adapter_mlp_names[1]);
	int H = t && t->n_dims == 2 && t->shape[0] > 0 && t->shape[0] <= 1 << 24 ? (int)t->shape[0]
	      : 0;
	if (!H)
		st = qt_err_set(err, QT_EDATA, "%s: %s: missing or not a matrix", path,
		                adapter_mlp_names[1]);
	if (!st && a->cfg.prefix_hidden && H != a->cfg.prefix_hidden)
		st = qt_err_set(err, QT_EDATA, "%s: %s has %d rows, but encoder_hidden_size is %d",
		                path, adapter_mlp_names[1], H, a->cfg.prefix_hidden);
	if (!st)
		st = adapter_mlp_init(a, H, err);
	for (int i = 0; i < ADAPTER_MLP_N && !st; i++) {
		int64_t sh[2];
		float *dst = adapter_mlp_tensor(&a->mlp, i, sh);
		int nd = sh[1] ? 2 : 1;
		t = st_find(&f, adapter_mlp_names[i]);
		char want[48];
		snprintf(want, sizeof want, nd == 2 ? "[%lld, %lld]" : "[%lld]", (long long)sh[0],
		         (long long)sh[1]);
		if (!t || t->dtype != QT_DTYPE_F32 || t->n_dims != nd || t->shape[0] != sh[0] ||
		    (nd == 2 && t->shape[1] != sh[1]))
			st = qt_err_set(err, QT_EDATA, "%s: %s: missing or not F32 %s", path,
			                adapter_mlp_names[i], want);
		else
			memcpy(dst, t->data, t->size);
	}
	if (!st && f.n_tensors != ADAPTER_MLP_N)
		st = qt_err_set(err, QT_EDATA, "%s: %zu tensors, expected the MLP's %d", path,
		                f.n_tensors, ADAPTER_MLP_N);
	st_close(&f);
	return st;
}
