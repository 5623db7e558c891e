/* comm.h — how the parts of a data-parallel training run talk: one rank per part (threads of
 * one process, or MPI processes), and the one collective they need, a sum of a flat buffer
 * of doubles done in rank order so that the same number of parts always gives the same bits.
 */
#ifndef RNNC_COMM_H
#define RNNC_COMM_H

/* One rank's end of a communicator. */
typedef struct Comm Comm;
struct Comm {
    int rank, size;
    /* Replaces buf[0..n) on every rank by the sum over the ranks, added in rank order
     * ((b0 + b1) + b2) + ... for every element: deterministic, whatever the transport.
     * Every rank calls it with the same n. 0, or -1 when the transport failed (a rank died):
     * the reason is in err. */
    int (*sum)(Comm *c, double *buf, long n);
    void *impl;
    char err[256];
};

/* The communicator of a single process: rank 0 of 1, sum does nothing. */
void comm_single(Comm *c);

/* A group of n ranks that are threads of this process. comm_threads_new: the shared part
 * (NULL when out of memory); comm_threads_join: the Comm of rank `rank` of it. Free the
 * group with comm_threads_free after every thread is done. */
typedef struct CommGroup CommGroup;
CommGroup *comm_threads_new(int n);
void comm_threads_join(CommGroup *g, Comm *c, int rank);
void comm_threads_free(CommGroup *g);

/* MPI (host/comm_mpi.c, built when Open MPI's development files are found): whether the
 * process was started by an MPI launcher (mpirun) with more than one rank; comm_mpi_open
 * initialises MPI once per process and gives this process's rank of MPI_COMM_WORLD.
 * 0, or -1 with the reason in c->err (among them: this rnnc was built without MPI). */
int comm_mpi_launched(void);
int comm_mpi_open(Comm *c);
/* Stops every rank of the job at once (after a rank-local failure that others cannot
 * learn of through sum, e.g. before the first exchange). Never returns under MPI. */
void comm_mpi_abort(int code);

#endif
