/* Resize and Upsample: nearest and linear. */
#include "import/onnx_ops.h"

#include <math.h>
#include <string.h>

/* The batch size the file declares for its inputs (one value, > 0), else
 * 0: a size entry of the batch axis equal to it keeps the batch. */
static int64_t exported_batch(struct cv *cv)
{
    const struct onnx_graph *og = &cv->m->graph;
    int64_t b = 0;
    for (int i = 0; i < og->n_inputs; i++) {
        const struct onnx_value_info *in = &og->inputs[i];
        if (!in->has_shape || in->rank < 1 || in->dims[0] < 1)
            continue;
        bool init = false;
        for (int k = 0; k < og->n_initializers && !init; k++)
            init = strcmp(og->initializers[k].name, in->name) == 0;
        if (init)
            continue;
        if (b && b != in->dims[0])
            return 0;
        b = in->dims[0];
    }
    return b;
}

/* Resize (opsets 10 to 18) and Upsample (7, 9): nearest and linear of any
 * axes but the batch, scales or sizes constant. Upsample and Resize-10
 * map output index o to o / scale (asymmetric) and take the floor. */
enum quanta_status cv_op_resize(struct cv *cv)
{
    static const char *const attrs_up7[] = {"mode", "scales", NULL};
    static const char *const attrs_up9[] = {"mode", NULL};
    static const char *const attrs11[] = {"mode", "coordinate_transformation_mode",
                                          "cubic_coeff_a", "exclude_outside",
                                          "extrapolation_value", "nearest_mode", NULL};
    static const char *const attrs18[] = {"mode", "coordinate_transformation_mode",
                                          "cubic_coeff_a", "exclude_outside",
                                          "extrapolation_value", "nearest_mode", "antialias",
                                          "axes", "keep_aspect_ratio_policy", NULL};
    const int64_t opset = cv->m->opset;
    const bool upsample = cv_op_is(cv, "Upsample");
    const bool simple = upsample || opset < 11; /* Upsample and Resize-10 */
    struct cv_value *x;
    enum quanta_status st;
    const char *mode, *coord = "asymmetric", *round = "floor", *policy = "stretch";
    int64_t antialias = 0;
    char buf[128];
    if ((st = cv_check_attrs(cv, upsample ? (opset < 9 ? attrs_up7 : attrs_up9)
                                 : simple     ? attrs_up9
                                 : opset < 18 ? attrs11
                                              : attrs18)) ||
        (st = cv_need_act(cv, 0, &x)) || (st = cv_attr_string(cv, "mode", "nearest", &mode)))
        return st;
    if (!simple &&
        ((st = cv_attr_string(cv, "coordinate_transformation_mode", "half_pixel", &coord)) ||
         (st = cv_attr_string(cv, "nearest_mode", "round_prefer_floor", &round)) ||
         (st = cv_attr_string(cv, "keep_aspect_ratio_policy", "stretch", &policy)) ||
         (st = cv_attr_int(cv, "antialias", 0, &antialias))))
        return st;
    int gmode = strcmp(mode, "nearest") == 0 ? GRAPH_MODE_NEAREST
                : strcmp(mode, "linear") == 0 || (upsample && strcmp(mode, "bilinear") == 0)
                    ? GRAPH_MODE_LINEAR
                    : -1;
    if (gmode < 0)
        return cv_fail(cv, "attribute 'mode' '%s' is not supported (nearest, linear)", mode);
    int gcoord = -1, ground = -1;
    for (int i = 0; i < GRAPH_COORD_COUNT; i++)
        if (strcmp(coord, graph_coord_name(i)) == 0)
            gcoord = i;
    for (int i = 0; i < GRAPH_ROUND_COUNT; i++)
        if (strcmp(round, graph_round_name(i)) == 0)
            ground = i;
    if (gcoord < 0)
        return cv_fail(cv, "attribute 'coordinate_transformation_mode' '%s' is not supported",
                       coord);
    if (ground < 0)
        return cv_fail(cv, "attribute 'nearest_mode' '%s' is not supported", round);
    if (strcmp(policy, "stretch") != 0)
        return cv_fail(cv, "attribute 'keep_aspect_ratio_policy' '%s' is not supported "
                           "(stretch only)",
                       policy);
    if (antialias)
        return cv_fail(cv, "attribute 'antialias' %lld is not supported", (long long)antialias);

    const int r = x->shape.rank;
    int64_t axes[QUANTA_MAX_RANK];
    int na = r;
    for (int i = 0; i < r; i++)
        axes[i] = i;
    if (!simple && opset >= 18) {
        const int64_t *v;
        int n;
        if ((st = cv_attr_ints(cv, "axes", &v, &n)))
            return st;
        if (n > r)
            return cv_fail(cv, "attribute 'axes' has %d entries for rank %d", n, r);
        if (n >= 0) {
            na = n;
            for (int i = 0; i < n; i++)
                axes[i] = v[i] < 0 ? v[i] + r : v[i];
        }
    }
    /* scales or sizes, na entries */
    double scales[QUANTA_MAX_RANK];
    int64_t sizes[QUANTA_MAX_RANK];
    bool by_sizes = false;
    const struct onnx_tensor *t = NULL;
    if (upsample && opset < 9) {
        const struct onnx_attr *a = onnx_node_attr(cv->node, "scales");
        if (!a || a->n_floats != na)
            return cv_fail(cv, "attribute 'scales' must have %d entries", na);
        for (int i = 0; i < na; i++)
            scales[i] = (double)a->floats[i];
    } else {
        int ks = simple ? 1 : 2;
        struct cv_value *sv = NULL, *zv = NULL;
        if ((st = cv_input(cv, ks, &sv)) || (!simple && (st = cv_input(cv, 3, &zv))))
            return st;
        if (sv && (st = cv_need_const(cv, ks, "scales", &t)))
            return st;
        if ((!sv || t->numel == 0) && zv) {
            if ((st = cv_need_const(cv, 3, "sizes", &t)))
                return st;
            by_sizes = true;
        } else if (!sv) {
            return cv_fail(cv, "needs scales or sizes");
        }
        if (t->numel != na)
            return cv_fail(cv, "%s has %lld entries for %d axes", by_sizes ? "sizes" : "scales",
                           (long long)t->numel, na);
        for (int i = 0; i < na; i++) {
            if (by_sizes)
                sizes[i] = cv_tensor_i(t, i);
            else
                scales[i] = (double)(float)cv_tensor_f(t, i);
        }
    }
    struct cv_value out = *x;
    float gscale[QUANTA_MAX_RANK];
    bool seen[QUANTA_MAX_RANK] = {false}, same = true, down = false;
    for (int d = 0; d < r; d++)
        gscale[d] = 1.0f;
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i], in = a >= 0 && a < r ? x->shape.dims[a] : 0;
        if (a < 0 || a >= r || seen[a])
            return cv_fail(cv, "axis %lld is not valid for rank %d", (long long)axes[i], r);
        seen[a] = true;
        int64_t o;
        if (by_sizes) {
            o = sizes[i];
            if (in < 0 && (o == CV_BATCH || o == exported_batch(cv)))
                continue;
            gscale[a] = 0.0f; /* output / input */
        } else {
            double s = scales[i];
            if (!(s > 0.0) || !isfinite(s))
                return cv_fail(cv, "scale %g of axis %lld is not a positive number", s,
                               (long long)a);
            if (in < 0 && s == 1.0)
                continue;
            o = in < 0 ? -1 : (int64_t)floor(s * (double)in);
            gscale[a] = (float)s;
            down = down || s < 1.0;
        }
        if (in < 0)
            return cv_fail(cv, "resizes the batch axis of '%s' %s, whose size is any", x->name,
                           quanta_shape_format(&x->shape, buf, sizeof buf));
        if (o < 1 || o > INT32_MAX)
            return cv_fail(cv, "axis %lld would have %lld elements", (long long)a, (long long)o);
        out.shape.dims[a] = o;
        same = same && o == in && (gscale[a] == 0.0f || gscale[a] == 1.0f);
    }
    if (simple && gmode == GRAPH_MODE_NEAREST && down)
        return cv_fail(cv, "nearest with a scale below 1 is not supported for %s",
                       upsample ? "Upsample" : "Resize before opset 11");
    if (same && !(gcoord == GRAPH_COORD_TF_HALF_PIXEL_FOR_NN && gmode == GRAPH_MODE_NEAREST))
        return cv_def_new(cv, x);
    if (x->flat)
        return cv_fail(cv, "input '%s' is a flattened NCHW tensor", x->name);
    int qx;
    if ((st = cv_materialize(cv, x, x->perm, &qx)))
        return st;
    struct quanta_shape phys = cv_phys_shape(&out.shape, x->perm);
    int node;
    if ((st = cv_emit(cv, GRAPH_OP_RESIZE, &qx, 1, &phys, &out.q, &node)))
        return st;
    struct graph_attrs *ga = &cv->g->nodes[node].attrs;
    ga->shape = phys;
    ga->mode = gmode;
    ga->coord = gcoord;
    ga->nearest = ground;
    ga->n_scales = by_sizes ? 0 : r;
    for (int i = 0; i < r && !by_sizes; i++)
        ga->scales[i] = gscale[x->perm[i]];
    return cv_def_new(cv, &out);
}
