/* comm_mpi.c — the MPI communicator (the only file that includes mpi.h): rank and size of
 * MPI_COMM_WORLD, and a sum in rank order built from collectives that only move data
 * (MPI_Ialltoall to hand every rank one slice of every buffer, MPI_Iallgather to share the
 * summed slices), never MPI_Allreduce, whose order of additions is the library's choice;
 * waiting for them sleeps between polls.
 * Without MPI (RNNC_HAVE_MPI undefined) it only recognises a launch by mpirun and refuses.
 */
#define _POSIX_C_SOURCE 200809L
#include "comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Launchers' environment: Open MPI's mpirun, and PMI-based ones (MPICH, Slurm). */
static int env_size(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0)
            return atoi(v);
    }
    return 0;
}

int comm_mpi_launched(void)
{
    return env_size() > 1;
}

#ifndef RNNC_HAVE_MPI

int comm_mpi_open(Comm *c)
{
    comm_single(c);
    snprintf(c->err, sizeof c->err,
             "started by mpirun with %d ranks, but this rnnc was built without MPI "
             "(install Open MPI's libopenmpi-dev and rebuild), so each rank would train "
             "alone: use --threads N for one machine",
             env_size());
    return -1;
}

void comm_mpi_abort(int code)
{
    (void)code;
}

#else

#include <mpi.h>

typedef struct MpiComm {
    double *send, *recv, *part; /* (size * per), (size * per), (per) */
    long cap;                   /* per: the slice capacity the buffers have */
} MpiComm;

static int mpi_fail(Comm *c, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    snprintf(c->err, sizeof c->err,
             "rank %d of %d: %s failed (%.*s): another rank has stopped or died", c->rank, c->size,
             what, len, msg);
    return -1;
}

/* Waits for a non-blocking collective: polls for a tenth of a millisecond, then sleeps 20 us
 * between polls. A rank that waits for a slower one (every step, for the last share to
 * finish) so leaves the core to it and to whatever else runs on the machine, instead of
 * spinning as MPI's blocking calls do. MPI_SUCCESS or an error code. */
static int mpi_wait(MPI_Request *rq)
{
    struct timespec t0, now, nap = {0, 20000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int done = 0, rc = MPI_Test(rq, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) > 100000)
            nanosleep(&nap, NULL);
    }
}

static int alltoall(double *send, double *recv, long per)
{
    MPI_Request rq;
    int rc =
        MPI_Ialltoall(send, (int)per, MPI_DOUBLE, recv, (int)per, MPI_DOUBLE, MPI_COMM_WORLD, &rq);
    return rc == MPI_SUCCESS ? mpi_wait(&rq) : rc;
}

static int allgather(double *send, double *recv, long per)
{
    MPI_Request rq;
    int rc = MPI_Iallgather(send, (int)per, MPI_DOUBLE, recv, (int)per, MPI_DOUBLE, MPI_COMM_WORLD,
                            &rq);
    return rc == MPI_SUCCESS ? mpi_wait(&rq) : rc;
}

/* Makes room for slices of `per` doubles from every rank. 0, or -1 (out of memory). */
static int mpi_room(Comm *c, MpiComm *m, long per)
{
    if (per <= m->cap)
        return 0;
    int N = c->size;
    free(m->send);
    free(m->recv);
    free(m->part);
    m->send = calloc((size_t)(N * per), sizeof *m->send);
    m->recv = calloc((size_t)(N * per), sizeof *m->recv);
    m->part = calloc((size_t)per, sizeof *m->part);
    m->cap = m->send && m->recv && m->part ? per : 0;
    if (m->cap)
        return 0;
    snprintf(c->err, sizeof c->err, "rank %d: out of memory for the exchange", c->rank);
    return -1;
}

/* buf[0..n): rank r receives slice r of every rank's (MPI_Ialltoall), adds them in rank
 * order, and the sums are gathered everywhere (MPI_Iallgather). */
static int mpi_sum_slices(Comm *c, MpiComm *m, double *buf, long n)
{
    int N = c->size, rc;
    long per = (n + N - 1) / N;
    memcpy(m->send, buf, (size_t)n * sizeof *buf);
    memset(m->send + n, 0, (size_t)(N * per - n) * sizeof *buf);
    rc = alltoall(m->send, m->recv, per);
    if (rc != MPI_SUCCESS)
        return mpi_fail(c, rc, "MPI_Alltoall");
    for (long i = 0; i < per; i++) {
        double s = m->recv[i];
        for (int k = 1; k < N; k++)
            s += m->recv[(long)k * per + i];
        m->part[i] = s;
    }
    rc = allgather(m->part, m->send, per);
    if (rc != MPI_SUCCESS)
        return mpi_fail(c, rc, "MPI_Allgather");
    memcpy(buf, m->send, (size_t)n * sizeof *buf);
    return 0;
}

enum {
    SMALL = 4096,   /* doubles: below this, one MPI_Iallgather of the whole buffers */
    SEGMENT = 32768 /* doubles (256 KB) per round of the large path: messages stay small
                       enough for the shared-memory transport's fast path, which loses
                       two orders of magnitude past a megabyte on some machines */
};

/* Small buffers: every rank gathers all of them and adds in rank order itself (one call).
 * Large ones, in segments: each rank sends and receives 2 (size - 1) / size of n. */
static int mpi_sum(Comm *c, double *buf, long n)
{
    MpiComm *m = c->impl;
    int N = c->size;
    if (n < SMALL) {
        if (mpi_room(c, m, n) < 0)
            return -1;
        int rc = allgather(buf, m->recv, n);
        if (rc != MPI_SUCCESS)
            return mpi_fail(c, rc, "MPI_Allgather");
        for (long i = 0; i < n; i++) {
            double s = m->recv[i];
            for (int k = 1; k < N; k++)
                s += m->recv[(long)k * n + i];
            buf[i] = s;
        }
        return 0;
    }
    if (mpi_room(c, m, (SEGMENT + N - 1) / N) < 0)
        return -1;
    for (long off = 0; off < n; off += SEGMENT)
        if (mpi_sum_slices(c, m, buf + off, n - off < SEGMENT ? n - off : SEGMENT) < 0)
            return -1;
    return 0;
}

static void mpi_finalize(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Finalize();
}

int comm_mpi_open(Comm *c)
{
    static MpiComm m;
    comm_single(c);
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
        int got;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &got) != MPI_SUCCESS) {
            snprintf(c->err, sizeof c->err, "MPI_Init failed");
            return -1;
        }
        atexit(mpi_finalize);
    }
    /* a failed exchange returns an error (reported, then every rank stops) */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->sum = mpi_sum;
    c->impl = &m;
    return 0;
}

void comm_mpi_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
}

#endif
