/* Byte-level checks of header text: UTF-8 and a JSON pre-scan. */
#include "io/io_internal.h"

#include <string.h>

bool io_utf8_valid(const unsigned char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            goto invalid;
        }
        if (n - i < len)
            goto invalid;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                goto invalid;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto invalid;
        i += len;
    }
    return true;
invalid:
    if (bad)
        *bad = i;
    return false;
}

const char *io_json_prescan(const char *text, size_t n, int max_depth, size_t *offset)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t bad;
    if (!io_utf8_valid(s, n, &bad)) {
        *offset = bad;
        return "is not valid UTF-8";
    }
    if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) {
        *offset = 0;
        return "starts with a byte order mark";
    }
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        *offset = i;
        if (in_string) {
            if (c < 0x20)
                return "has a control character inside a string";
            if (c == '"') {
                in_string = false;
            } else if (c == '\\') {
                if (i + 1 >= n)
                    return "ends inside a string";
                if (s[i + 1] == 'u' && n - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
                    return "has an escaped NUL character (\\u0000) in a string";
                i++; /* the escaped character cannot end the string */
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '{':
        case '[':
            if (++depth > max_depth)
                return "nests objects or arrays too deeply";
            break;
        case '}':
        case ']':
            depth--;
            break;
        case ' ':
        case '\t':
        case '\n':
        case '\r':
            break;
        default:
            if (c < 0x20)
                return "has a control character";
            break;
        }
    }
    return NULL;
}
