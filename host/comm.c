/* comm.c — communicators without MPI: a single process, and ranks that are threads of one
 * process (`rnnc train --threads N`), which sum by each adding its own slice of the buffer
 * over every rank in rank order between two barriers. comm_mpi.c has the MPI one.
 */
#define _POSIX_C_SOURCE 200809L
#include "comm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static int single_sum(Comm *c, double *buf, long n)
{
    (void)c;
    (void)buf;
    (void)n;
    return 0;
}

void comm_single(Comm *c)
{
    memset(c, 0, sizeof *c);
    c->size = 1;
    c->sum = single_sum;
}

struct CommGroup {
    int n;
    pthread_barrier_t bar;
    double **slot; /* (n) each rank's buffer during a sum */
};

CommGroup *comm_threads_new(int n)
{
    CommGroup *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->n = n;
    g->slot = calloc((size_t)n, sizeof *g->slot);
    if (!g->slot || pthread_barrier_init(&g->bar, NULL, (unsigned)n) != 0) {
        free(g->slot);
        free(g);
        return NULL;
    }
    return g;
}

void comm_threads_free(CommGroup *g)
{
    if (!g)
        return;
    pthread_barrier_destroy(&g->bar);
    free(g->slot);
    free(g);
}

/* Rank r adds up slice r of every rank's buffer (in rank order) and writes the sum into all
 * of them: the slices are disjoint, so the only waits are the two barriers. */
static int threads_sum(Comm *c, double *buf, long n)
{
    CommGroup *g = c->impl;
    g->slot[c->rank] = buf;
    pthread_barrier_wait(&g->bar);
    long per = (n + g->n - 1) / g->n, lo = per * c->rank, hi = lo + per < n ? lo + per : n;
    for (long i = lo; i < hi; i++) {
        double s = g->slot[0][i];
        for (int k = 1; k < g->n; k++)
            s += g->slot[k][i];
        for (int k = 0; k < g->n; k++)
            g->slot[k][i] = s;
    }
    pthread_barrier_wait(&g->bar);
    return 0;
}

void comm_threads_join(CommGroup *g, Comm *c, int rank)
{
    memset(c, 0, sizeof *c);
    c->rank = rank;
    c->size = g->n;
    c->sum = threads_sum;
    c->impl = g;
}
