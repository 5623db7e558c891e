/* prelude_plain.c — the prelude's float e^v and tanh unfused, as units written out compute
 * them where the compiler knows no fast fused multiply-add (or RNNC_STRICT is defined): each
 * multiply and add rounded on its own. test_gen.c holds them to the bounds of the prelude's
 * comments beside jit_kern.c's fused build. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

#define RNNC_FUSED 0
#include "../templates/prelude.c"

float plain_expf(float v);
float plain_tanhf(float v);

float plain_expf(float v)
{
    return m_expf(v);
}

float plain_tanhf(float v)
{
    return m_tanhf(v);
}
