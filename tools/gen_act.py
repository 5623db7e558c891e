#!/usr/bin/python3
"""The coefficients of rnnc's float e^v and tanh (templates/prelude.c: m_expf, m_tanhf).

    /usr/bin/python3 tools/gen_act.py

e^r on |r| <= ln2/2 as 1 + r + r^2 q(r), q of degree 4; tanh x on 0 <= x <= 9 as
x P(x^2) / Q(x^2), P and Q of degree 4, Q(0) = 1. Each is a near-minimax fit of the relative
error (Lawson's iteratively reweighted least squares; for tanh with Loeb's linearisation of
the quotient), in 40-digit arithmetic (mpmath), printed as the float literals the prelude
uses with the fit's error. tests/test_gen.c measures the float code's error in ulps over
every float input.
"""
import mpmath as mp

mp.mp.dps = 40


def cheb(lo, hi, n):
    return [lo + (hi - lo) / 2 * (1 - mp.cos(mp.pi * (i + mp.mpf(0.5)) / n)) for i in range(n)]


def fit(xs, cols, rel, iters):
    """c minimising max_i |sum_j c_j cols(x_i)_j / rel(x_i, c) - 1| approximately: each round
    a weighted least-squares solve of the linearised residual sum_j c_j cols_j - rel_i, the
    weights grown where the error is large (Lawson)."""
    n = len(xs)
    lw = [mp.mpf(1) / n] * n
    c = None
    for _ in range(iters):
        a_rows, y = [], []
        for i, x in enumerate(xs):
            row, target, scale = cols(x, c)
            w = mp.sqrt(lw[i]) / scale
            a_rows.append([w * v for v in row])
            y.append(w * target)
        c, _ = mp.qr_solve(mp.matrix(a_rows), mp.matrix(y))
        e = [abs(rel(x, c)) for x in xs]
        s = sum(lw[i] * e[i] for i in range(n))
        lw = [lw[i] * e[i] / s for i in range(n)]
    return c, max(e)


def exp_fit():
    a = mp.log(2) / 2
    xs = cheb(-a, a, 300)

    def cols(r, c):  # q(r) r^2 = e^r - 1 - r, relative to e^r
        return [r ** (j + 2) for j in range(5)], mp.e ** r - 1 - r, mp.e ** r

    def rel(r, c):
        return (1 + r + sum(c[j] * r ** (j + 2) for j in range(5))) / mp.e ** r - 1

    return fit(xs, cols, rel, 60)


def tanh_fit():
    xs = [x if x > 0 else mp.mpf("1e-6") for x in cheb(mp.mpf(0), mp.mpf(9), 500)]

    def q_of(x, c):
        return 1 + sum(c[5 + j] * x ** (2 * j + 2) for j in range(4)) if c else mp.mpf(1)

    def cols(x, c):  # P(t) - g Q(t) = 0 with Q(0) = 1, scaled by the last round's g Q
        g, t = mp.tanh(x) / x, x * x
        return ([t ** j for j in range(5)] + [-g * t ** (j + 1) for j in range(4)], g,
                g * q_of(x, c))

    def rel(x, c):
        t = x * x
        return x * sum(c[j] * t ** j for j in range(5)) / q_of(x, c) / mp.tanh(x) - 1

    return fit(xs, cols, rel, 60)


def lit(v):
    return "%.9ef" % float(v)


if __name__ == "__main__":
    c, err = exp_fit()
    print("e^r: q0..q4 =", ", ".join(lit(v) for v in c), " (fit: %.2e)" % float(err))
    c, err = tanh_fit()
    print("tanh: p0..p4 =", ", ".join(lit(c[j]) for j in range(5)))
    print("      q1..q4 =", ", ".join(lit(c[5 + j]) for j in range(4)), " (fit: %.2e)" % float(err))
