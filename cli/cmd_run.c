/* cmd_run.c — the commands that run the generated code on data: rnnc run (forward),
 * rnnc grad (backward through time) and rnnc train (the live progress line, Ctrl-C and
 * SIGTERM under mpirun). Each parses its option table and calls include/rnnc.h.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char usage_run[] =
    "usage: rnnc run SPEC --weights W.pt --input X.npy [--lengths L.npy]\n"
    "                [--h0 H0.npy] [--c0 C0.npy]\n"
    "                --output Y.npy [--h-n H.npy] [--c-n C.npy] [--print] [--jit auto|tcc|cc]\n"
    "                [--threads N] [--rename OLD=NEW ...]\n"
    "JIT-compiles the network and runs it.\n"
    "  --weights  a state_dict: torch.save'd .pt or safetensors, named as the spec's\n"
    "             blocks and head (F32/F64; .pt also F16/BF16), or a checkpoint of rnnc train\n"
    "  --input    (B, T, I) if the spec says batch_first: true, else (T, B, I)\n"
    "  --lengths  (B,) int32/int64, each in 1..T: PyTorch's packed-sequence meaning\n"
    "  --h0       the top block's initial hidden state, (num_layers*D, B, H) (P with\n"
    "             proj_size) as PyTorch's h0; every other block starts from zeros\n"
    "  --c0       the top block's initial cell state, (num_layers*D, B, H) (LSTM only)\n"
    "  --output   the head's output ((B, O) for input: last; per step for sequence),\n"
    "             else the top block's output; zero past each length\n"
    "  --h-n      the top block's final hidden state, (num_layers*D, B, H)\n"
    "  --c-n      the top block's final cell state (LSTM only)\n"
    "  --print    also print the output (summarised when large); --output is then optional\n"
    "  --jit      auto (default): libtcc in memory at once while the system compiler\n"
    "             builds the same code in the background, which takes over when ready\n"
    "             (the same bits either way); tcc: libtcc only; cc: the system compiler\n"
    "             ($CC or cc, -O3 -march=native, fused multiply-adds) before starting\n"
    "  --threads  N parts of the batch on N threads (default 1); the same numbers\n"
    "  --rename   OLD=NEW, repeatable: the file's prefix OLD is the spec's NEW\n"
    "             (encoder.rnn=rnn, classifier.fc=head; module.= strips module.)\n"
    "Exit status: 0 success, 1 bad input (nothing written), 2 bad usage.\n";

const char usage_grad[] =
    "usage: rnnc grad SPEC --weights W.pt --input X.npy [--lengths L.npy]\n"
    "                 [--h0 H0.npy] [--c0 C0.npy] [--dh0 DH0.npy] [--dc0 DC0.npy]\n"
    "                 --target Y.npy --output G.safetensors [--jit auto|tcc|cc]\n"
    "                 [--rename OLD=NEW ...]\n"
    "Runs the network forward and backward through time (JIT-compiled) and\n"
    "writes d loss / d parameter for every parameter, named and shaped as the weights; prints\n"
    "the loss. The spec's `loss:` says which: cross_entropy (on the head's logits; targets\n"
    "int class ids, (B,) for input: last, per step for sequence, -100 ignored), mse (on the\n"
    "output), bce_with_logits (on the logits; targets in [0, 1]). The mean is over valid\n"
    "elements: padded steps count for nothing. --h0, --c0 and --rename OLD=NEW as for run;\n"
    "--dh0 and --dc0 write d loss / d h0 (c0), h0's (c0's) shape.\n"
    "Exit status: 0 success, 1 bad input (nothing written), 2 bad usage.\n";

const char usage_train[] =
    "usage: rnnc train SPEC --input X.npy --target Y.npy [--lengths L.npy]\n"
    "                  [--val-input X.npy --val-target Y.npy [--val-lengths L.npy]]\n"
    "                  [--init W.safetensors | --resume CKPT] --save W.safetensors\n"
    "                  [--checkpoint CKPT] [--optimizer sgd|adam|adamw] [--lr X]\n"
    "                  [--momentum X] [--weight-decay X] [--batch-size N] [--epochs N]\n"
    "                  [--seed N] [--clip-grad-norm X] [--clip-grad-value X] [--tbptt K]\n"
    "                  [--no-shuffle] [--jit auto|tcc|cc] [--threads N] [--rename OLD=NEW ...]\n"
    "                  [--log FILE.csv [--log-every N]]\n"
    "Trains the network on the data with the spec's loss and train: settings (the flags\n"
    "override them). Starts from --init, or PyTorch's initialisation drawn from the seed, or\n"
    "continues a checkpoint (--resume): the result equals an uninterrupted run bit for bit.\n"
    "A checkpoint (default: the --save path + .ckpt) and --save are written atomically after\n"
    "every epoch and on Ctrl-C; a non-finite loss stops training and keeps the last good\n"
    "checkpoint. train.scheduler sets the learning rate per epoch; with train.early_stopping\n"
    "--save holds the weights of the best validation loss (the checkpoint the latest).\n"
    "  --log        CSV, a row per epoch (and every --log-every steps):\n"
    "               step,epoch,loss,val_loss,val_acc,lr,grad_norm,wall_time\n"
    "  --threads    split every mini-batch over N threads (gradients summed in order)\n"
    "Under mpirun (-np N) every process trains a share of each mini-batch, the gradients\n"
    "summed in rank order; rank 0 writes the checkpoint, the weights and the log.\n"
    "On a terminal a live line shows epoch, step, loss, steps/s and time left; every epoch\n"
    "prints a line with train and validation loss (and accuracy for classification).\n"
    "--rename OLD=NEW (as for run) applies to the --init weights.\n"
    "Exit status: 0 success (also after Ctrl-C, once saved), 1 bad input, 2 bad usage.\n";

static const Opt run_opts[] = {
    V("--weights", weights), V("--input", input), V("--lengths", lengths), V("--output", output),
    V("--h-n", h_n),         V("--c-n", c_n),     F("--print", print),     V("--threads", threads),
    V("--jit", jit),         V("--h0", h0),       V("--c0", c0),           RENAME};
static const Opt grad_opts[] = {V("--weights", weights),
                                V("--input", input),
                                V("--lengths", lengths),
                                V("--target", target),
                                V("--output", output),
                                V("--jit", jit),
                                V("--h0", h0),
                                V("--c0", c0),
                                V("--dh0", dh0),
                                V("--dc0", dc0),
                                RENAME};
static const Opt train_opts[] = {
    V("--input", input),
    V("--target", target),
    V("--lengths", lengths),
    V("--val-input", val_input),
    V("--val-target", val_target),
    V("--val-lengths", val_lengths),
    V("--init", init),
    V("--resume", resume),
    V("--save", save),
    V("--checkpoint", checkpoint),
    V("--log", log),
    V("--log-every", log_every),
    V("--threads", threads),
    F("--no-shuffle", no_shuffle),
    V("--jit", jit),
    T("--optimizer", "optimizer"),
    T("--lr", "lr"),
    T("--momentum", "momentum"),
    T("--weight-decay", "weight_decay"),
    T("--batch-size", "batch_size"),
    T("--epochs", "epochs"),
    T("--seed", "seed"),
    T("--clip-grad-norm", "clip_grad_norm"),
    T("--clip-grad-value", "clip_grad_value"),
    T("--tbptt", "tbptt"),
    RENAME,
};

/* rnnc run SPEC: the forward pass into --output (or printed). */
int cmd_run(int argc, char **argv)
{
    Args a;
    int pr = cli_parse_args(argc, argv, run_opts, NOPTS(run_opts), &a, usage_run);
    const char *flags[] = {"--weights", "--input", "--output"};
    const char *values[] = {a.weights, a.input, a.output ? a.output : a.print ? "" : NULL};
    if (pr || (pr = cli_require(&a, "run", flags, values, 3, usage_run)))
        return pr == 1 ? 0 : 2;
    RnncRunArgs ra = {
        a.weights, a.input, a.lengths, a.output, a.h_n, a.c_n, a.print ? stdout : NULL,
        1,         a.h0,    a.c0};
    long nt = 1;
    if (a.threads && cli_whole("--threads", a.threads, 1, 256, &nt, usage_run))
        return 2;
    ra.threads = (int)nt;
    int st;
    Rnnc *r = cli_load(&a, &st);
    if (!r)
        return st;
    return cli_finish(r, rnnc_run(r, &ra) == 0 ? 0 : 1);
}

/* rnnc grad SPEC: the loss printed, the gradients into --output. */
int cmd_grad(int argc, char **argv)
{
    Args a;
    int pr = cli_parse_args(argc, argv, grad_opts, NOPTS(grad_opts), &a, usage_grad);
    const char *flags[] = {"--weights", "--input", "--target", "--output"};
    const char *values[] = {a.weights, a.input, a.target, a.output};
    if (pr || (pr = cli_require(&a, "grad", flags, values, 4, usage_grad)))
        return pr == 1 ? 0 : 2;
    int st;
    Rnnc *r = cli_load(&a, &st);
    if (!r)
        return st;
    RnncGradArgs ga = {a.weights, a.input, a.lengths, a.target, a.output, 0,
                       0,         a.h0,    a.c0,      a.dh0,    a.dc0};
    if (rnnc_grad(r, &ga) != 0)
        return cli_finish(r, 1);
    printf("loss %.9g\n", ga.loss);
    return cli_finish(r, 0);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct Display {
    int tty;
    double last;
    int live; /* a live line is on the terminal, not yet ended */
} Display;

static void show_progress(void *ctx, const RnncProgress *p)
{
    Display *d = ctx;
    if (p->end_of_epoch) {
        if (d->tty)
            printf("\r\033[K");
        d->live = 0;
        cli_print_epoch(p);
        printf("  lr %.3g%s  (%.1f s)\n", p->lr, p->best ? "  best" : "", p->elapsed);
        fflush(stdout);
        return;
    }
    if (!d->tty || (p->elapsed - d->last < 0.1 && p->step != p->steps))
        return;
    d->last = p->elapsed;
    d->live = 1;
    printf("\r\033[Kepoch %d/%d  step %ld/%ld  loss %.6f  %.1f steps/s  %.0f s left", p->epoch,
           p->epochs, p->step, p->steps, p->loss, p->steps_per_s, p->eta);
    fflush(stdout);
}

/* rnnc train SPEC: the train: overrides checked by the library, then the epochs; Ctrl-C
 * (and SIGTERM under mpirun) stops after a step and saves. */
int cmd_train(int argc, char **argv)
{
    Args a;
    int pr = cli_parse_args(argc, argv, train_opts, NOPTS(train_opts), &a, usage_train);
    const char *flags[] = {"--input", "--target", "--save"};
    const char *values[] = {a.input, a.target, a.save};
    if (pr || (pr = cli_require(&a, "train", flags, values, 3, usage_train)))
        return pr == 1 ? 0 : 2;
    if (a.init && a.resume)
        return cli_bad_usage("--init and --resume exclude each other", NULL, usage_train);
    if (!a.val_input != !a.val_target)
        return cli_bad_usage("--val-input and --val-target go together", NULL, usage_train);
    if (a.log_every && !a.log)
        return cli_bad_usage("--log-every goes with --log", NULL, usage_train);
    long threads = 1, every = 0;
    if ((a.threads && cli_whole("--threads", a.threads, 1, 256, &threads, usage_train)) ||
        (a.log_every && cli_whole("--log-every", a.log_every, 1, 1L << 30, &every, usage_train)))
        return 2;
    int mpi = rnnc_mpi_launched(), rank0 = rnnc_mpi_rank() == 0;
    if (mpi && threads > 1)
        return cli_bad_usage("--threads is for one process; under mpirun each rank is one", NULL,
                             usage_train);
    int st;
    Rnnc *r = cli_load(&a, &st);
    if (!r)
        return st;
    RnncTrainArgs ta;
    memset(&ta, 0, sizeof ta);
    rnnc_train_cfg(r, &ta.cfg);
    /* the overrides follow the spec's own rules: a bad value is bad usage here */
    for (int k = 0; k < a.ntrain; k++)
        if (rnnc_train_set(r, &ta.cfg, a.train_key[k], a.train_value[k], a.train_flag[k]) < 0)
            return cli_finish(r, 2);
    if (a.no_shuffle)
        ta.cfg.shuffle = 0;
    ta.input = a.input;
    ta.target = a.target;
    ta.lengths = a.lengths;
    ta.val_input = a.val_input;
    ta.val_target = a.val_target;
    ta.val_lengths = a.val_lengths;
    ta.init = a.init;
    ta.resume = a.resume;
    ta.save = a.save;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", a.save);
    ta.checkpoint = a.checkpoint ? a.checkpoint : ckpt;
    ta.log = a.log;
    ta.log_every = (int)every;
    ta.threads = (int)threads;
    ta.mpi = mpi;
    Display disp = {isatty(STDOUT_FILENO) && rank0, -1, 0};
    ta.progress = show_progress;
    ta.ctx = &disp;
    ta.stop = &interrupted;
    /* Ctrl-C, and the SIGTERM that mpirun sends every rank on Ctrl-C: stop at the next
     * step, save once (rank 0), exit 0 */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (mpi)
        sigaction(SIGTERM, &sa, NULL);
    int rc = rnnc_train(r, &ta);
    signal(SIGINT, SIG_DFL);
    if (disp.live) { /* end the live line before anything else is said */
        printf("\n");
        fflush(stdout);
    }
    if (rc == 0 && ta.rank == 0) {
        if (ta.stopped)
            fprintf(stderr,
                    "rnnc: interrupted: weights saved to %s, checkpoint %s; continue with "
                    "--resume %s\n",
                    ta.save, ta.checkpoint, ta.checkpoint);
        else if (ta.early_stopped)
            printf("early stopping: no better validation loss for %d epochs; saved %s (the "
                   "best weights)\n",
                   ta.cfg.stop_patience, ta.save);
        else
            printf("saved %s\n", ta.save);
        if (ta.nranks > 1)
            printf("trained on %d MPI ranks: %.1f s, of which %.2f s (%.1f %%) in exchanges\n",
                   ta.nranks, ta.seconds, ta.comm_seconds,
                   100 * ta.comm_seconds / (ta.seconds > 0 ? ta.seconds : 1));
    }
    return cli_finish(r, rc == 0 ? 0 : 1);
}
