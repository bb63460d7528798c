/*
 * fuzz_conf.c -- libFuzzer target for the configuration parser
 * (common/conf.c), through conf_load_buffer(), the path every file takes.
 *
 * The first input byte picks the file name (a daemon file or warp.conf,
 * whose shared-only rule is a separate code path); the rest is the file.
 * Beyond "no crash, no leak" it checks what the parser promises: a NULL
 * result comes with at least one error, every error names the file, a
 * loaded configuration answers every getter of its table, and every value
 * read back is valid for its type (an enum reads back as one of its
 * choices, a list is NULL-terminated with the count it reports).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static const struct conf_key fuzz_keys[] = {
	{ "user", CONF_STR, "warp-fuzz", 0, 0, NULL, 0, "account" },
	{ "message_size_limit", CONF_SIZE, "10240000", 1, 1 << 30, NULL, 0,
	  "size" },
	{ "timeout", CONF_DURATION, "5m", 100, 86400000, NULL, 0, "deadline" },
	{ "retries", CONF_INT, "3", -10, 10, NULL, 0, "count" },
	{ "outbound_tls", CONF_ENUM, "may", 0, 0, "none|may|encrypt|verify", 0,
	  "tls" },
	{ "filter", CONF_BOOL, "no", 0, 0, NULL, 0, "filter" },
	{ "sinks", CONF_LIST, "sqlite", 0, 0, NULL, 0, "sinks" },
	{ "spool", CONF_PATH, "spool", 0, 0, NULL, 0, "spool" },
	{ "listen", CONF_ADDR, "127.0.0.1:10025", 0, 0, NULL, 0, "listen" },
	{ "password", CONF_STR, "", 0, 0, NULL, CONF_SECRET, "secret" },
	CONF_KEY_END
};

static void
check_values(const struct conf *cf)
{
	const char	*s;
	char *const	*l;
	size_t		 n, i;
	int64_t		 v;

	(void)conf_str(cf, "user");
	(void)conf_str(cf, "spool");
	(void)conf_str(cf, "password");
	(void)conf_str(cf, "socket_dir");
	if (conf_size(cf, "message_size_limit") < 1 ||
	    conf_size(cf, "message_size_limit") > (1 << 30))
		abort();
	v = conf_duration_ms(cf, "timeout");
	if (v < 100 || v > 86400000)
		abort();
	v = conf_int(cf, "retries");
	if (v < -10 || v > 10)
		abort();
	s = conf_str(cf, "outbound_tls");
	if (strcmp(s, "none") && strcmp(s, "may") && strcmp(s, "encrypt") &&
	    strcmp(s, "verify"))
		abort();
	s = conf_str(cf, "log_level");
	if (strcmp(s, "error") && strcmp(s, "warning") && strcmp(s, "notice") &&
	    strcmp(s, "info") && strcmp(s, "debug"))
		abort();
	if (conf_bool(cf, "filter") > 1u || conf_bool(cf, "syslog") > 1u)
		abort();
	l = conf_list(cf, "sinks", &n);
	for (i = 0; i < n; i++)
		if (l[i] == NULL || l[i][0] == '\0')
			abort();
	if (l[n] != NULL)
		abort();
	l = conf_list(cf, "listen", &n);
	if (l[n] != NULL)
		abort();
	if (conf_origin(cf, "user") == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_diag	 diag;
	struct conf		*cf;
	const char		*name;
	size_t			 i;

	if (size == 0)
		return 0;
	name = (data[0] & 1) ? "warp.conf" : "warp-fuzz.conf";
	memset(&diag, 0, sizeof(diag));
	cf = conf_load_buffer(fuzz_keys, name, (const char *)data + 1,
	    size - 1, &diag);
	if (cf == NULL && diag.nerrors == 0)
		abort();
	if (cf != NULL && diag.nerrors != 0)
		abort();
	for (i = 0; i < diag.nerrors; i++)
		if (strncmp(diag.errors[i], name, strlen(name)) != 0)
			abort();
	for (i = 0; i < diag.nwarnings; i++)
		if (strncmp(diag.warnings[i], name, strlen(name)) != 0)
			abort();
	if (cf != NULL)
		check_values(cf);
	conf_free(cf);
	conf_diag_free(&diag);
	return 0;
}
