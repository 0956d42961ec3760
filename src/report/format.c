/* Shapes and numbers as the reports print them: text with the batch as N,
 * JSON arrays, and JSON numbers that are null when not finite. */
#include "report/report.h"

#include <math.h>
#include <stdio.h>

const char *report_op_label(const struct graph_node *n, char *buf, size_t size)
{
    bool act = n->attrs.activation != GRAPH_ACT_NONE;
    bool residual = (n->op == GRAPH_OP_CONV2D || n->op == GRAPH_OP_DENSE) && n->n_inputs > 3 &&
                    n->inputs[3] >= 0;
    if (n->op == GRAPH_OP_PAD || n->op == GRAPH_OP_RESIZE || n->op == GRAPH_OP_EMBEDDING_BAG)
        snprintf(buf, size, "%s:%s", graph_op_name(n->op), graph_mode_name(n->attrs.mode));
    else
        snprintf(buf, size, "%s%s%s%s", graph_op_name(n->op), residual ? "+add" : "",
                 act ? "+" : "", act ? graph_activation_name(n->attrs.activation) : "");
    return buf;
}

char *report_shape_text(const struct quanta_shape *shape, char *buf, size_t size)
{
    size_t len = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
#define APPEND(...)                                                                   \
    do {                                                                              \
        int k_ = snprintf(buf + len, size - len, __VA_ARGS__);                        \
        if (k_ < 0 || (size_t)k_ >= size - len)                                       \
            return buf;                                                               \
        len += (size_t)k_;                                                            \
    } while (0)
    APPEND("[");
    for (int d = 0; d < shape->rank; d++) {
        if (d > 0)
            APPEND(", ");
        if (d == 0 && shape->dims[0] < 0)
            APPEND("N");
        else
            APPEND("%lld", (long long)shape->dims[d]);
    }
    APPEND("]");
#undef APPEND
    return buf;
}

cJSON *report_json_shape(const struct quanta_shape *shape)
{
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; a && d < shape->rank; d++) {
        cJSON *n = cJSON_CreateNumber((double)shape->dims[d]);
        if (!n || !cJSON_AddItemToArray(a, n)) {
            cJSON_Delete(n);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

bool report_json_number(cJSON *object, const char *key, double v)
{
    if (isfinite(v))
        return cJSON_AddNumberToObject(object, key, v) != NULL;
    return cJSON_AddNullToObject(object, key) != NULL;
}
