/* sink_mysql.c -- placeholder while the MySQL sink is written. */
#include "logd.h"
static int my_open(struct sink *s, const struct conf *cf) { return -1; }
static void my_write(struct sink *s, struct logd_batch **g, size_t n) { }
const struct sink_ops sink_mysql_ops = { .name = "mysql", .durable = 1, .open = my_open, .write = my_write };
