/* Notes of the static rewrite: what it adjusted so that int8 results stay
 * right, in words for stderr, inspect and the model's metadata. */
#include "quanta/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

void quantize_notes_free(struct quantize_notes *notes)
{
    if (!notes)
        return;
    for (int i = 0; i < notes->n; i++) {
        free(notes->list[i].node);
        free(notes->list[i].value);
    }
    free(notes->list);
    notes->list = NULL;
    notes->n = 0;
}

const char *quantize_note_kind_name(enum quantize_note_kind kind)
{
    switch (kind) {
    case QUANTIZE_NOTE_BIAS_FIT:
        return "bias_fit";
    case QUANTIZE_NOTE_ZERO_RANGE:
        return "zero_range";
    case QUANTIZE_NOTE_NARROW_RANGE:
        return "narrow_range";
    case QUANTIZE_NOTE_MIN_SCALE:
        return "min_scale";
    case QUANTIZE_NOTE_PAD_VALUE:
        return "pad_value";
    }
    return "unknown";
}

void quantize_note_format(const struct quantize_note *n, char *buf, size_t size)
{
    char where[600];
    if (n->node)
        snprintf(where, sizeof where, "node '%s': ", n->node);
    else
        where[0] = '\0';
    switch (n->kind) {
    case QUANTIZE_NOTE_BIAS_FIT:
        snprintf(buf, size,
                 "%sweight scale of %d of %d channel%s of '%s' widened (up to %.3gx, %.3g to "
                 "%.3g) so the int32 bias fits",
                 where, n->channels, n->total, n->total == 1 ? "" : "s", n->value,
                 n->to / n->from, n->from, n->to);
        break;
    case QUANTIZE_NOTE_ZERO_RANGE:
        snprintf(buf, size,
                 "%svalue '%s' has the calibrated range [0, 0] (every sample gave 0): scale 1, "
                 "every int8 value is the zero point",
                 where, n->value);
        break;
    case QUANTIZE_NOTE_NARROW_RANGE:
        snprintf(buf, size,
                 "%svalue '%s': calibrated scale %.3g is finer than the node resolves; widened "
                 "to %.3g (input step / 2^29)",
                 where, n->value, n->from, n->to);
        break;
    case QUANTIZE_NOTE_MIN_SCALE:
        snprintf(buf, size,
                 "%svalue '%s': calibrated scale %.3g is below the minimum; raised to %.3g "
                 "(2^-100)",
                 where, n->value, n->from, n->to);
        break;
    case QUANTIZE_NOTE_PAD_VALUE:
        snprintf(buf, size,
                 "%spad constant %.9g is no int8 step of '%s'; pads with %.9g, the nearest "
                 "step within its range",
                 where, n->from, n->value, n->to);
        break;
    }
}

char *quantize_notes_json(const struct quantize_notes *notes)
{
    cJSON *list = cJSON_CreateArray();
    char *text = NULL;
    for (int i = 0; list && i < notes->n; i++) {
        const struct quantize_note *n = &notes->list[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            goto done;
        cJSON_AddItemToArray(list, o);
        if (!cJSON_AddStringToObject(o, "rule", quantize_note_kind_name(n->kind)) ||
            !(n->node ? cJSON_AddStringToObject(o, "node", n->node)
                      : cJSON_AddNullToObject(o, "node")) ||
            !cJSON_AddStringToObject(o, "value", n->value) ||
            (n->kind == QUANTIZE_NOTE_BIAS_FIT &&
             (!cJSON_AddNumberToObject(o, "channels", n->channels) ||
              !cJSON_AddNumberToObject(o, "of", n->total))) ||
            !cJSON_AddNumberToObject(o, "from", n->from) ||
            !cJSON_AddNumberToObject(o, "to", n->to))
            goto done;
    }
    if (list)
        text = cJSON_PrintUnformatted(list);
done:
    cJSON_Delete(list);
    return text;
}

/* The kind named name, or -1. */
static int kind_of(const char *name)
{
    for (int k = QUANTIZE_NOTE_BIAS_FIT; k <= QUANTIZE_NOTE_PAD_VALUE; k++)
        if (strcmp(name, quantize_note_kind_name((enum quantize_note_kind)k)) == 0)
            return k;
    return -1;
}

bool quantize_notes_parse(const char *json, struct quantize_notes *notes)
{
    memset(notes, 0, sizeof *notes);
    cJSON *list = cJSON_Parse(json);
    bool ok = cJSON_IsArray(list);
    int n = ok ? cJSON_GetArraySize(list) : 0;
    if (ok && n > 0 && !(notes->list = calloc((size_t)n, sizeof *notes->list)))
        ok = false;
    for (int i = 0; ok && i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(list, i);
        const cJSON *rule = cJSON_GetObjectItemCaseSensitive(o, "rule");
        const cJSON *node = cJSON_GetObjectItemCaseSensitive(o, "node");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(o, "value");
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(o, "from");
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(o, "to");
        const cJSON *channels = cJSON_GetObjectItemCaseSensitive(o, "channels");
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(o, "of");
        int kind = cJSON_IsString(rule) ? kind_of(rule->valuestring) : -1;
        if (kind < 0 || !cJSON_IsString(value) || !cJSON_IsNumber(from) ||
            !cJSON_IsNumber(to) || !(cJSON_IsString(node) || cJSON_IsNull(node))) {
            ok = false;
            break;
        }
        struct quantize_note *q = &notes->list[notes->n++];
        q->kind = (enum quantize_note_kind)kind;
        q->node = cJSON_IsString(node) ? strdup(node->valuestring) : NULL;
        q->value = strdup(value->valuestring);
        q->from = from->valuedouble;
        q->to = to->valuedouble;
        q->channels = cJSON_IsNumber(channels) ? channels->valueint : 0;
        q->total = cJSON_IsNumber(of) ? of->valueint : 0;
        ok = q->value && (q->node || !cJSON_IsString(node));
    }
    cJSON_Delete(list);
    if (!ok)
        quantize_notes_free(notes);
    return ok;
}

void quantize_applied_free(struct quantize_applied *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->n_pairs; i++) {
        free(a->pairs[i].first);
        free(a->pairs[i].second);
    }
    for (int i = 0; i < a->n_corrected; i++)
        free(a->corrected[i].node);
    free(a->pairs);
    free(a->corrected);
    memset(a, 0, sizeof *a);
}

char *quantize_applied_json(const struct quantize_applied *a)
{
    cJSON *root = cJSON_CreateObject(), *eq = cJSON_CreateObject();
    cJSON *pairs = cJSON_CreateArray(), *bc = cJSON_CreateArray();
    char *s = NULL;
    if (!root || !eq || !pairs || !bc) {
        cJSON_Delete(eq);
        cJSON_Delete(pairs);
        cJSON_Delete(bc);
        goto done;
    }
    cJSON_AddItemToObject(root, "equalize", eq);
    cJSON_AddItemToObject(root, "bias_correction", bc);
    if (!cJSON_AddNumberToObject(eq, "passes", a->passes))
        goto done;
    cJSON_AddItemToObject(eq, "pairs", pairs);
    for (int i = 0; i < a->n_pairs; i++) {
        const struct quantize_pair *p = &a->pairs[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            goto done;
        cJSON_AddItemToArray(pairs, o);
        if (!cJSON_AddStringToObject(o, "first", p->first) ||
            !cJSON_AddStringToObject(o, "second", p->second) ||
            !cJSON_AddNumberToObject(o, "channels", p->channels) ||
            !cJSON_AddNumberToObject(o, "min_scale", p->min_scale) ||
            !cJSON_AddNumberToObject(o, "max_scale", p->max_scale))
            goto done;
    }
    for (int i = 0; i < a->n_corrected; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            goto done;
        cJSON_AddItemToArray(bc, o);
        if (!cJSON_AddStringToObject(o, "node", a->corrected[i].node) ||
            !cJSON_AddNumberToObject(o, "max_shift", a->corrected[i].max_shift))
            goto done;
    }
    s = cJSON_PrintUnformatted(root);
done:
    cJSON_Delete(root);
    return s;
}
