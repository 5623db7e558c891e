/* pair.c — a trainer's forward and backward on two threads: part 1 of every call on a
 * helper thread kept for the run, part 0 on the caller's. The generated forward_train gives
 * each part its own sequences through every layer (nothing shared, no barrier); the
 * generated backward gives each part its own layers (the top one and every other one below
 * it to part 0, the rest to part 1), and a layer waits, step by step, for the layer above to
 * have passed the step whose dL/dy it reads (pair_sync). Each layer's arithmetic is the
 * same whichever part runs it, so two parts give one part's bits: a trainer uses the
 * machine's second core with no change to any result.
 */
#ifdef __linux__
#define _GNU_SOURCE /* sched_getaffinity */
#endif
#include "train.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

enum { JOB_NONE, JOB_FORWARD, JOB_BACKWARD };

struct Pair {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job, done, quit, rc; /* under mu */
    const ModelFns *f;
    /* the call's arguments, set under mu before the job is posted */
    const void *w, *x, *drop, *state0, *dout;
    const int *lengths;
    int B, T, Bmax, Tmax, nlayers; /* this call's batch; the largest sched holds; the layers */
    void *y, *logits, *state1, *cache, *dw;
    int *sched[2];     /* each forward part's schedule, 2 Bmax + Tmax ints */
    atomic_int *steps; /* backward: the steps each layer has done, (nlayers) */
};

/* A spinning wait's pause (the core's other hardware thread, or the host's under a VM, gets
 * the pipeline meanwhile). */
static void relax(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* backward's meeting point: layer g has done `done` steps; wait until layer g + 1 has done
 * `need` (a negative need: until layer g - 1 has done -need, the ring of a layer that leaves
 * its dW_ih to the part below). The release and acquire carry each step's dL/dx from the layer
 * that wrote it to the one that reads it. The other part is a step away (tens of microseconds):
 * spin, and yield only after SPIN_S, when its core is busy with something else. A yield after a
 * few hundred loads, as before, handed the core at almost every step to whatever else was
 * runnable, `--jit auto`'s background build above all, for a time slice while the other
 * part waited in turn: T1's recipe with an empty cache took 1.49 s where libtcc alone took
 * 1.19 s, and 1.25 s with this wait (medians of six interleaved runs). */
#define SPIN_S 500e-6
static void pair_sync(void *ctx, int g, int done, int need)
{
    Pair *h = ctx;
    atomic_store_explicit(&h->steps[g], done, memory_order_release);
    const int of = need < 0 ? g - 1 : g + 1, at = need < 0 ? -need : need;
    double t0 = 0;
    for (int k = 1; at > 0 && atomic_load_explicit(&h->steps[of], memory_order_acquire) < at;
         k++) {
        if (k % 256) { /* the clock once every 256 pauses, a few microseconds */
            relax();
            continue;
        }
        double t = train_now_s();
        if (t0 == 0)
            t0 = t;
        else if (t - t0 > SPIN_S)
            sched_yield();
    }
}

static int run_part(Pair *h, int job, int part)
{
    if (job == JOB_FORWARD)
        return h->f->forward_train(h->w, h->x, h->lengths, h->B, h->T, h->y, h->logits, h->drop,
                                   h->state0, h->state1, h->cache, part, 2, h->sched[part]);
    return h->f->backward(h->w, h->x, h->B, h->T, h->dout, h->drop, h->dw, NULL, h->cache, part, 2,
                          pair_sync, h);
}

static void *helper(void *arg)
{
    Pair *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->job == JOB_NONE && !h->quit)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->quit)
            break;
        int job = h->job;
        h->job = JOB_NONE;
        pthread_mutex_unlock(&h->mu);
        int rc = run_part(h, job, 1);
        pthread_mutex_lock(&h->mu);
        h->rc = rc;
        h->done = 1;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* The cores this process may run on (taskset, a container's cpuset), not the machine's: two
 * parts on one core only take turns, and a waiting part's yields cost the other. */
static int cores(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

Pair *pair_new(const Plan *p, int Bmax, int Tmax)
{
    int nlayers = 0; /* of the stack: a bidirectional one counts once */
    for (int i = 0; i < p->nlayers; i++)
        nlayers += p->layers[i].dir == 0;
    if ((Bmax < 2 && nlayers < 2) || cores() < 2)
        return NULL;
    Pair *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->Bmax = Bmax, h->Tmax = Tmax, h->nlayers = nlayers;
    size_t n = 2 * (size_t)Bmax + (size_t)Tmax;
    h->sched[0] = malloc(n * sizeof(int));
    h->sched[1] = malloc(n * sizeof(int));
    h->steps = calloc((size_t)nlayers + 1, sizeof *h->steps);
    int made = 0;
    if (h->sched[0] && h->sched[1] && h->steps && pthread_mutex_init(&h->mu, NULL) == 0) {
        made = 1;
        if (pthread_cond_init(&h->cv, NULL) == 0) {
            made = 2;
            if (pthread_create(&h->tid, NULL, helper, h) == 0)
                return h;
        }
    }
    if (made == 2)
        pthread_cond_destroy(&h->cv);
    if (made >= 1)
        pthread_mutex_destroy(&h->mu);
    free(h->sched[0]), free(h->sched[1]), free(h->steps), free(h);
    return NULL;
}

void pair_free(Pair *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->quit = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->tid, NULL);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h->sched[0]), free(h->sched[1]), free(h->steps), free(h);
}

/* Runs part 1 of `job` on the helper and part 0 here; -1 when either part failed. */
static int run_pair(Pair *h, int job)
{
    pthread_mutex_lock(&h->mu);
    h->done = 0;
    h->job = job;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    int rc = run_part(h, job, 0);
    pthread_mutex_lock(&h->mu);
    while (!h->done)
        pthread_cond_wait(&h->cv, &h->mu);
    int rc1 = h->rc;
    pthread_mutex_unlock(&h->mu);
    return rc || rc1 ? -1 : 0;
}

int pair_forward(Pair *h, const ModelFns *f, const void *w, const void *x, const int *lengths,
                 int B, int T, void *y, void *logits, const void *drop, const void *state0,
                 void *state1, void *cache)
{
    if (!h || B < 2 || B > h->Bmax || T > h->Tmax)
        return f->forward_train(w, x, lengths, B, T, y, logits, drop, state0, state1, cache, 0, 1,
                                NULL);
    pthread_mutex_lock(&h->mu);
    h->f = f, h->w = w, h->x = x, h->lengths = lengths, h->B = B, h->T = T;
    h->y = y, h->logits = logits, h->drop = drop, h->state0 = state0, h->state1 = state1;
    h->cache = cache;
    pthread_mutex_unlock(&h->mu);
    return run_pair(h, JOB_FORWARD);
}

int pair_backward(Pair *h, const ModelFns *f, const void *w, const void *x, int B, int T,
                  const void *dout, const void *drop, void *dw, void *cache)
{
    if (!h || h->nlayers < 2)
        return f->backward(w, x, B, T, dout, drop, dw, NULL, cache, 0, 1, NULL, NULL);
    pthread_mutex_lock(&h->mu);
    h->f = f, h->w = w, h->x = x, h->B = B, h->T = T, h->dout = dout, h->drop = drop;
    h->dw = dw, h->cache = cache;
    for (int g = 0; g <= h->nlayers; g++)
        atomic_store_explicit(&h->steps[g], 0, memory_order_relaxed);
    pthread_mutex_unlock(&h->mu);
    return run_pair(h, JOB_BACKWARD);
}
