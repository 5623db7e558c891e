/* templates/quant.c - the fixed helpers of quantised deployed code (deploy.quantize), as real
 * C. The emitter (compiler/emit/quant.c) copies the sections a model needs after replacing
 * the RNNC_ holes and typedef'ing `act` (the activations: signed char or short), `acc` (the
 * accumulators: int or long long) and `real`; the `qtest` section gives them test values so
 * that this file compiles on its own (tests/test_quant.c does so with -Werror). The tables
 * come from tools/gen_qtables.py.
 */

/* @@ qtest */
typedef float real;
typedef signed char act;
typedef int acc;
#define RNNC_FN
#define RNNC_QMAX 127
#define RNNC_QFRAC 7
#define RNNC_ZERO 0.0f

/* @@ qcore */
/* Integer arithmetic of the int8 and int16 modes: no float anywhere. Beyond ISO C it
 * assumes a 32-bit int and an arithmetic right shift of negative values (gcc, clang and tcc
 * on every target), which these two declarations check at compile time. */
typedef char q_int_has_32_bits[sizeof(int) == 4 ? 1 : -1];
typedef char q_shift_is_arithmetic[(-3 >> 1) == -2 ? 1 : -1];

/* v clamped to the activations' symmetric range [-QMAX, QMAX]. */
RNNC_FN static act q_act(int v)
{
    return (act)(v > RNNC_QMAX ? RNNC_QMAX : v < -RNNC_QMAX ? -RNNC_QMAX : v);
}

/* Requantisation: v * m / 2^e rounded half up, 1 <= e <= 62, in 64 bits (|v| m < 2^62 by
 * construction: rnnc chose m's bits from the accumulator's bound), clamped to +-2^30 so
 * that two results add without overflow. */
RNNC_FN static int q_scale(acc v, int m, int e)
{
    const long long p = ((long long)v * m + (1LL << (e - 1))) >> e;
    return (int)(p > 1073741824LL ? 1073741824LL : p < -1073741824LL ? -1073741824LL : p);
}

/* a + w . v over n: a row of int8 weights against the activations, in the accumulator. */
RNNC_FN static acc q_dot(acc a, const signed char *w, const act *v, int n)
{
    for (int k = 0; k < n; k++)
        a += (acc)(w[k] * v[k]);
    return a;
}

/* @@ qfix */
/* v clamped to int16. */
RNNC_FN static short q_sat16(int v)
{
    return (short)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
}

/* v / 2^s rounded half up, for 1 <= s <= 30. */
RNNC_FN static int q_rshift(int v, int s)
{
    return (v + (1 << (s - 1))) >> s;
}

/* A Q0.15 value (a gate's output) as an activation, Q0.QFRAC, rounded: 2v / 2^(16 - QFRAC)
 * is v itself when QFRAC is 15. */
RNNC_FN static act q_from15(int v)
{
    return q_act(q_rshift(2 * v, 16 - RNNC_QFRAC));
}

/* @@ qsigmoid */
/* sigmoid(i / 32) in Q0.15 for i = 0..256 (capped at 32767). */
static const short q_sig_tab[257] = {
    16384, 16640, 16896, 17151, 17407, 17661, 17916, 18169, 18421, 18673, 18923, 19173, 19420,
    19667, 19912, 20155, 20397, 20636, 20874, 21110, 21344, 21575, 21804, 22031, 22255, 22477,
    22696, 22913, 23127, 23338, 23547, 23753, 23955, 24155, 24352, 24546, 24737, 24925, 25110,
    25292, 25471, 25646, 25819, 25988, 26155, 26318, 26479, 26636, 26790, 26941, 27090, 27235,
    27377, 27516, 27653, 27786, 27917, 28045, 28169, 28292, 28411, 28528, 28642, 28753, 28862,
    28968, 29072, 29173, 29272, 29368, 29462, 29554, 29644, 29731, 29816, 29899, 29979, 30058,
    30135, 30210, 30282, 30353, 30422, 30489, 30555, 30618, 30680, 30740, 30799, 30856, 30912,
    30966, 31018, 31069, 31119, 31167, 31214, 31260, 31304, 31347, 31389, 31430, 31469, 31508,
    31545, 31581, 31616, 31651, 31684, 31716, 31747, 31778, 31807, 31836, 31864, 31891, 31917,
    31943, 31968, 31992, 32015, 32038, 32060, 32081, 32102, 32122, 32141, 32160, 32179, 32196,
    32214, 32231, 32247, 32263, 32278, 32293, 32307, 32321, 32335, 32348, 32361, 32373, 32385,
    32397, 32408, 32419, 32430, 32440, 32450, 32460, 32469, 32478, 32487, 32496, 32504, 32512,
    32520, 32527, 32535, 32542, 32549, 32555, 32562, 32568, 32574, 32580, 32586, 32592, 32597,
    32602, 32607, 32612, 32617, 32622, 32626, 32630, 32635, 32639, 32643, 32647, 32650, 32654,
    32657, 32661, 32664, 32667, 32670, 32673, 32676, 32679, 32682, 32684, 32687, 32689, 32692,
    32694, 32696, 32699, 32701, 32703, 32705, 32707, 32709, 32711, 32712, 32714, 32716, 32717,
    32719, 32720, 32722, 32723, 32725, 32726, 32727, 32728, 32730, 32731, 32732, 32733, 32734,
    32735, 32736, 32737, 32738, 32739, 32740, 32741, 32742, 32742, 32743, 32744, 32745, 32745,
    32746, 32747, 32747, 32748, 32749, 32749, 32750, 32750, 32751, 32752, 32752, 32753, 32753,
    32753, 32754, 32754, 32755, 32755, 32756, 32756, 32756, 32757, 32757,
};

/* sigmoid: int16 Q3.12 in, Q0.15 out. The table at steps of 1/32 over [0, 8], linear
 * interpolation on the input's 7 low bits, and sigmoid(-v) = 1 - sigmoid(v). */
RNNC_FN static short q_sigmoid(short v)
{
    const int a = v < 0 ? -v : v, i = a >> 7, f = a & 127;
    const int s = i >= 256 ? q_sig_tab[256]
                           : q_sig_tab[i] + (((q_sig_tab[i + 1] - q_sig_tab[i]) * f + 64) >> 7);
    return (short)(v < 0 ? 32768 - s : s);
}

/* @@ qtanh */
/* tanh(i / 32) in Q0.15 for i = 0..256 (capped at 32767). */
static const short q_tanh_tab[257] = {
    0,     1024,  2045,  3063,  4075,  5079,  6073,  7056,  8025,  8980,  9919,  10840, 11743,
    12625, 13486, 14326, 15143, 15936, 16706, 17452, 18173, 18870, 19542, 20189, 20813, 21411,
    21986, 22538, 23066, 23571, 24054, 24516, 24956, 25376, 25776, 26157, 26519, 26864, 27191,
    27502, 27797, 28076, 28341, 28592, 28830, 29055, 29268, 29470, 29660, 29840, 30010, 30170,
    30322, 30465, 30600, 30727, 30847, 30960, 31067, 31167, 31262, 31351, 31435, 31515, 31589,
    31659, 31726, 31788, 31846, 31901, 31953, 32002, 32048, 32091, 32132, 32170, 32206, 32240,
    32271, 32301, 32329, 32356, 32381, 32404, 32426, 32447, 32466, 32484, 32501, 32517, 32532,
    32547, 32560, 32573, 32584, 32596, 32606, 32616, 32625, 32634, 32642, 32649, 32657, 32663,
    32670, 32676, 32681, 32686, 32691, 32696, 32700, 32704, 32708, 32712, 32715, 32718, 32721,
    32724, 32727, 32729, 32732, 32734, 32736, 32738, 32740, 32741, 32743, 32745, 32746, 32747,
    32749, 32750, 32751, 32752, 32753, 32754, 32755, 32755, 32756, 32757, 32758, 32758, 32759,
    32759, 32760, 32760, 32761, 32761, 32762, 32762, 32762, 32763, 32763, 32763, 32764, 32764,
    32764, 32764, 32765, 32765, 32765, 32765, 32765, 32766, 32766, 32766, 32766, 32766, 32766,
    32766, 32766, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
    32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
};

/* tanh: int16 Q3.12 in, Q0.15 out, as q_sigmoid; tanh(-v) = -tanh(v). */
RNNC_FN static short q_tanh(short v)
{
    const int a = v < 0 ? -v : v, i = a >> 7, f = a & 127;
    const int t = i >= 256 ? q_tanh_tab[256]
                           : q_tanh_tab[i] + (((q_tanh_tab[i + 1] - q_tanh_tab[i]) * f + 64) >> 7);
    return (short)(v < 0 ? -t : t);
}

/* @@ qlstm */
/* The LSTM's cell state, Q(15-cf).cf, as a gate pre-activation, Q3.12. */
RNNC_FN static short q_c_to_gate(int c, int cf)
{
    return cf > 12 ? (short)q_rshift(c, cf - 12) : q_sat16(c * (1 << (12 - cf)));
}

/* @@ qgru */
/* GRU's update h' = n + z (h - n), in Q0.15 (n and z gates, h an activation). */
RNNC_FN static act q_gru_update(int n, int z, int h)
{
    const int h15 = h * (1 << (15 - RNNC_QFRAC));
    return q_from15(n + q_rshift(z * (h15 - n), 15));
}

/* @@ qexp */
/* exp(-i / 32) in Q0.15 for i = 0..256 (exp(0) = 32768). */
static const unsigned short q_exp_tab[257] = {
    32768, 31760, 30783, 29836, 28918, 28028, 27166, 26330, 25520, 24735, 23974, 23236, 22521,
    21828, 21157, 20506, 19875, 19263, 18671, 18096, 17539, 17000, 16477, 15970, 15479, 15002,
    14541, 14093, 13660, 13239, 12832, 12437, 12055, 11684, 11324, 10976, 10638, 10311, 9994,
    9686,  9388,  9099,  8819,  8548,  8285,  8030,  7783,  7544,  7312,  7087,  6869,  6657,
    6452,  6254,  6061,  5875,  5694,  5519,  5349,  5185,  5025,  4871,  4721,  4575,  4435,
    4298,  4166,  4038,  3914,  3793,  3676,  3563,  3454,  3347,  3244,  3145,  3048,  2954,
    2863,  2775,  2690,  2607,  2527,  2449,  2374,  2301,  2230,  2161,  2095,  2030,  1968,
    1907,  1849,  1792,  1737,  1683,  1631,  1581,  1533,  1485,  1440,  1395,  1352,  1311,
    1271,  1231,  1194,  1157,  1121,  1087,  1053,  1021,  990,   959,   930,   901,   873,
    846,   820,   795,   771,   747,   724,   702,   680,   659,   639,   619,   600,   582,
    564,   546,   530,   513,   498,   482,   467,   453,   439,   426,   412,   400,   387,
    376,   364,   353,   342,   331,   321,   311,   302,   292,   283,   275,   266,   258,
    250,   242,   235,   228,   221,   214,   207,   201,   195,   189,   183,   177,   172,
    167,   162,   157,   152,   147,   143,   138,   134,   130,   126,   122,   118,   115,
    111,   108,   104,   101,   98,    95,    92,    89,    86,    84,    81,    79,    76,
    74,    72,    69,    67,    65,    63,    61,    59,    58,    56,    54,    52,    51,
    49,    48,    46,    45,    43,    42,    41,    40,    38,    37,    36,    35,    34,
    33,    32,    31,    30,    29,    28,    27,    26,    26,    25,    24,    23,    23,
    22,    21,    21,    20,    19,    19,    18,    18,    17,    17,    16,    16,    15,
    15,    14,    14,    13,    13,    12,    12,    12,    11,    11,
};

/* e^v for v <= 0 in Q3.12 (an int: it may be below -8), Q0.15 out (1.0 is 32768): the table
 * with linear interpolation, beyond -8 times e^-8 once more, 0 beyond -16. */
RNNC_FN static int q_exp(int v)
{
    int a = -v, m = 32768;
    if (a >= 65536)
        return 0;
    if (a >= 32768) {
        a -= 32768;
        m = q_exp_tab[256];
    }
    const int i = a >> 7, f = a & 127;
    const int e = q_exp_tab[i] - (((q_exp_tab[i] - q_exp_tab[i + 1]) * f + 64) >> 7);
    return (e * m + 16384) >> 15;
}

/* Softmax of n logits l (Q3.12, ints within +-2^30) into y (Q0.QFRAC): e^(l - max) in
 * Q0.15, then each one's share by a 32-bit integer division, rounded (n < 32768, so the sum
 * holds in an int). e: n ints of room. */
RNNC_FN static void q_softmax(const int *l, int *e, act *y, int n)
{
    int mx = l[0], s = 0;
    for (int i = 1; i < n; i++)
        mx = l[i] > mx ? l[i] : mx;
    for (int i = 0; i < n; i++) {
        e[i] = q_exp(l[i] - mx);
        s += e[i];
    }
    for (int i = 0; i < n; i++)
        y[i] = q_act(((e[i] << RNNC_QFRAC) + s / 2) / s);
}

/* @@ w8dot */
/* w . v over n: a row of int8 weights against real activations (int8-weights mode); the
 * row's scale multiplies the sum once. */
RNNC_FN static real w8_dot(const signed char *w, const real *v, int n)
{
    real s = RNNC_ZERO;
    for (int k = 0; k < n; k++)
        s += (real)w[k] * v[k];
    return s;
}
