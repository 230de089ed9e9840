/* qlora-tools: ISC license. */
/*
 * The distributed layer over MPI (common/dist.h). Compiled with QT_MPI when the Makefile finds
 * OpenMPI (mpicc or pkg-config ompi-c); without it, a world of one process.
 */
#include "common/dist.h"

#include <stdlib.h>
#include <string.h>

#ifdef QT_MPI
#include <mpi.h>
#endif

static int d_rank, d_size = 1, d_local, d_local_size = 1;
#ifdef QT_MPI
static int d_on;      /* MPI_Init was called */
static float *d_tmp;  /* dist_allreduce_f32's receive buffer, kept between calls */
static size_t d_tmp_n;
#endif

/* The size a launcher announces in the environment (OpenMPI, PMIx, PMI/Slurm), or 0. */
static int launcher_size(void)
{
	static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE",
	                                    NULL };
	for (int i = 0; vars[i]; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return atoi(v);
	}
	return getenv("PMIX_RANK") ? 2 : 0; /* PMIx without a size: ask MPI */
}

int dist_rank(void) { return d_rank; }
int dist_size(void) { return d_size; }
int dist_local_rank(void) { return d_local; }
int dist_local_size(void) { return d_local_size; }

#ifndef QT_MPI

int dist_built(void) { return 0; }

int dist_init(struct qt_err *err)
{
	if (launcher_size() > 1)
		return qt_err_set(err, QT_EUSAGE, "started by mpirun with %d processes, but built "
		                  "without MPI (install libopenmpi-dev and rebuild)", launcher_size());
	return QT_OK;
}

void dist_finalize(void) {}
void dist_allreduce_f32(float *buf, size_t n) { (void)buf, (void)n; }
void dist_allreduce_f64(double *v, int n) { (void)v, (void)n; }
void dist_allreduce_u64(uint64_t *v, int n) { (void)v, (void)n; }
void dist_bcast(void *buf, size_t n) { (void)buf, (void)n; }
void dist_barrier(void) {}

int dist_agree(int status, int *who)
{
	*who = 0;
	return status;
}

void dist_abort(int status)
{
	exit(status);
}

#else

int dist_built(void) { return 1; }

int dist_init(struct qt_err *err)
{
	(void)err;
	if (launcher_size() < 1 || d_on)
		return QT_OK;
	MPI_Init(NULL, NULL);
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
	MPI_Comm_rank(MPI_COMM_WORLD, &d_rank);
	MPI_Comm_size(MPI_COMM_WORLD, &d_size);
	MPI_Comm node;
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d_rank, MPI_INFO_NULL, &node);
	MPI_Comm_rank(node, &d_local);
	MPI_Comm_size(node, &d_local_size);
	MPI_Comm_free(&node);
	d_on = 1;
	return QT_OK;
}

void dist_finalize(void)
{
	if (d_on)
		MPI_Finalize();
	d_on = 0;
	free(d_tmp);
	d_tmp = NULL, d_tmp_n = 0;
}

/* Element range [off, off + len) of part j when n elements are cut into size parts. */
static void part(size_t n, int j, size_t *off, size_t *len)
{
	size_t q = n / (size_t)d_size, r = n % (size_t)d_size;
	*off = q * (size_t)j + ((size_t)j < r ? (size_t)j : r);
	*len = q + ((size_t)j < r);
}

/* Elements per round: keeps MPI's int counts and the scratch buffer bounded. */
#define CHUNK ((size_t)1 << 24)

void dist_allreduce_f32(float *buf, size_t n)
{
	if (d_size < 2)
		return;
	int P = d_size, *sc = malloc(4 * (size_t)P * sizeof *sc);
	if (!sc)
		MPI_Abort(MPI_COMM_WORLD, QT_ESOFTWARE);
	int *sd = sc + P, *rc = sd + P, *rd = rc + P;
	for (size_t at = 0; at < n; at += CHUNK) {
		size_t m = n - at < CHUNK ? n - at : CHUNK, off, len, mine;
		float *b = buf + at;
		part(m, d_rank, &off, &mine);
		if (d_tmp_n < mine * (size_t)P) {
			free(d_tmp);
			d_tmp_n = mine * (size_t)P;
			if (!(d_tmp = malloc(d_tmp_n * sizeof *d_tmp)))
				MPI_Abort(MPI_COMM_WORLD, QT_ESOFTWARE);
		}
		float *tmp = d_tmp;
		/* reduce-scatter: part j of every rank goes to rank j, rank after rank */
		for (int j = 0; j < P; j++) {
			part(m, j, &off, &len);
			sc[j] = (int)len, sd[j] = (int)off;
			rc[j] = (int)mine, rd[j] = (int)(mine * (size_t)j);
		}
		MPI_Alltoallv(b, sc, sd, MPI_FLOAT, tmp, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
		for (int j = 1; j < P; j++) {
			const float *src = tmp + mine * (size_t)j;
			for (size_t i = 0; i < mine; i++)
				tmp[i] += src[i];
		}
		/* all-gather: every rank's reduced part into everyone's buffer */
		MPI_Allgatherv(tmp, (int)mine, MPI_FLOAT, b, sc, sd, MPI_FLOAT, MPI_COMM_WORLD);
	}
	free(sc);
}

void dist_allreduce_f64(double *v, int n)
{
	if (d_size < 2)
		return;
	double *all = malloc((size_t)n * (size_t)d_size * sizeof *all);
	if (!all)
		MPI_Abort(MPI_COMM_WORLD, QT_ESOFTWARE);
	MPI_Allgather(v, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
	for (int i = 0; i < n; i++) {
		double s = all[i];
		for (int j = 1; j < d_size; j++)
			s += all[(size_t)j * (size_t)n + (size_t)i];
		v[i] = s;
	}
	free(all);
}

void dist_allreduce_u64(uint64_t *v, int n)
{
	if (d_size > 1)
		MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
}

int dist_agree(int status, int *who)
{
	*who = d_rank;
	if (d_size < 2)
		return status;
	int in[2] = { status, d_rank }, out[2];
	/* the largest status; MAXLOC breaks ties by the lowest rank */
	MPI_Allreduce(in, out, 1, MPI_2INT, MPI_MAXLOC, MPI_COMM_WORLD);
	*who = out[1];
	return out[0];
}

void dist_bcast(void *buf, size_t n)
{
	if (d_size > 1)
		MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
}

void dist_barrier(void)
{
	if (d_size > 1)
		MPI_Barrier(MPI_COMM_WORLD);
}

void dist_abort(int status)
{
	if (d_on && d_size > 1)
		MPI_Abort(MPI_COMM_WORLD, status);
	exit(status);
}

#endif
