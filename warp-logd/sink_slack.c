/* sink_slack.c -- placeholder while the Slack sink is written. */
#include "logd.h"
static int sl_open(struct sink *s, const struct conf *cf) { return -1; }
static void sl_write(struct sink *s, struct logd_batch **g, size_t n) { }
const struct sink_ops sink_slack_ops = { .name = "slack", .durable = 0, .open = sl_open, .write = sl_write };
