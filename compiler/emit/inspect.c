/* inspect.c — <name>_cache_at, the one entry point of the training unit that exists for
 * looking inside a model (rnnc plot): where forward_train left each layer's outputs and cell
 * states and where backward left the gradient of the initial state, in the cache that
 * em_train_mem (api.c) lays out.
 */
#include "emit_int.h"

void em_cache_at(Emitter *e)
{
    const Plan *p = e->p;
    Sb *sb = e->sb;
    sb_line(sb,
            "/* A region of `cache` (B x T) for inspection, or 0 where there is none: what 0,");
    sb_line(sb,
            " * layer-direction i's gate activations (B, T, G*H); 1, the outputs of its layer,");
    sb_line(sb,
            " * both directions (B, T, D*Hr); 2, its cell states c (B, T, H); after backward,");
    sb_line(sb, " * 3 and 4: dL/dh (B, Hr) and dL/dc (B, H) carried back to before step 0 of");
    sb_line(sb, " * layer-direction 0, i.e. d loss / d state0 of the first layer's forward");
    sb_line(sb, " * direction. The pointer's type is real *. */");
    sb_line(sb, "void *%s_cache_at(void *cache, int B, int T, int what, int i)", p->net->name);
    sb_line(sb, "{");
    sb->indent += 4;
    sb_line(sb, "TrainMem m;");
    sb_line(sb, "static const int group[%d] = {", p->nlayers);
    int g = -1;
    for (int i = 0; i < p->nlayers; i++) {
        g += p->layers[i].dir == 0;
        sb_line(sb, "    %d,", g);
    }
    sb_line(sb, "};");
    sb_line(sb, "if (i < 0 || i >= %d)", p->nlayers);
    sb_line(sb, "    return 0;");
    sb_line(sb, "train_mem(cache, B, T, &m);");
    sb_line(sb, "switch (what) {");
    sb_line(sb, "case 0:");
    sb_line(sb, "    return m.a[i];");
    sb_line(sb, "case 1:");
    sb_line(sb, "    return m.out[group[i]];");
    sb_line(sb, "case 2: /* only an LSTM's layers have c */");
    sb_line(sb, "    switch (i) {");
    for (int i = 0; i < p->nlayers; i++)
        if (cell_desc(p->layers[i].block)->has_c) {
            sb_line(sb, "    case %d:", i);
            sb_line(sb, "        return m.cs[%d];", i);
        }
    sb_line(sb, "    default:");
    sb_line(sb, "        return 0;");
    sb_line(sb, "    }");
    sb_line(sb, "case 3:");
    sb_line(sb, "    return m.dhn[0];");
    sb_line(sb, "case 4:");
    sb_line(sb, "    return %s;", cell_desc(p->layers[0].block)->has_c ? "m.dcn[0]" : "0");
    sb_line(sb, "default:");
    sb_line(sb, "    return 0;");
    sb_line(sb, "}");
    sb->indent -= 4;
    sb_line(sb, "}");
    sb_line(sb, "%s", "");
}
