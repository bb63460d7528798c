/*
 * tls.c -- OpenSSL for both legs: warp as a TLS client toward the
 * destination (STARTTLS per outbound_tls) and as a TLS server toward
 * clients (client_tls_cert/client_tls_key).
 *
 * Called by proxyd.c (contexts, as root so the key can be read), dest.c
 * and client.c (wrapping a descriptor after STARTTLS).  Security role:
 * certificate verification for outbound_tls = verify (chain against
 * tls_ca_file, name with X509_VERIFY_PARAM_set1_host), SNI, and the
 * private key, which is only read here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "util.h"

#include "proxyd.h"

static void
log_ssl_errors(const char *what)
{
	unsigned long	 e;
	char		 buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
	}
}

int
tls_init(struct proxyd *p, const struct conf *cf)
{
	const char	*cert = conf_str(cf, "client_tls_cert");
	const char	*key = conf_str(cf, "client_tls_key");
	const char	*ca = conf_str(cf, "tls_ca_file");
	int		 verify = strcmp(conf_str(cf, "outbound_tls"),
			    "verify") == 0;

	if ((p->tls_out = SSL_CTX_new(TLS_client_method())) == NULL) {
		log_ssl_errors("SSL_CTX_new");
		return -1;
	}
	SSL_CTX_set_verify(p->tls_out, SSL_VERIFY_NONE, NULL);
	/* Opportunistic TLS with old MXs: accept what OpenSSL accepts. */
	SSL_CTX_set_options(p->tls_out, SSL_OP_NO_COMPRESSION);
	if (ca[0] != '\0' && SSL_CTX_load_verify_locations(p->tls_out, ca,
	    NULL) != 1) {
		if (verify) {
			log_ssl_errors("tls_ca_file");
			log_warnx("tls_ca_file %s cannot be loaded", ca);
			return -1;
		}
		ERR_clear_error();
	}
	if (cert[0] == '\0')
		return 0;
	if ((p->tls_in = SSL_CTX_new(TLS_server_method())) == NULL) {
		log_ssl_errors("SSL_CTX_new");
		return -1;
	}
	SSL_CTX_set_options(p->tls_in, SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(p->tls_in, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(p->tls_in, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(p->tls_in) != 1) {
		log_ssl_errors("client_tls_cert/client_tls_key");
		log_warnx("cannot load client_tls_cert %s / client_tls_key %s",
		    cert, key);
		return -1;
	}
	return 0;
}

void
tls_free(struct proxyd *p)
{
	SSL_CTX_free(p->tls_out);
	SSL_CTX_free(p->tls_in);
	p->tls_out = p->tls_in = NULL;
}

struct bufferevent *
tls_wrap(struct session *s, int fd, int server_role, const char *sni,
    int verify)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	ssl = SSL_new(server_role ? proxyd->tls_in : proxyd->tls_out);
	if (ssl == NULL) {
		log_ssl_errors("SSL_new");
		return NULL;
	}
	if (!server_role) {
		if (sni != NULL)
			SSL_set_tlsext_host_name(ssl, sni);
		if (verify) {
			char ip[ADDR_STRLEN];

			SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
			/*
			 * The name checked is one we chose: the smarthost's
			 * configured name, else the destination's address.
			 * Never the banner's name: a server can claim any
			 * name it holds a certificate for.
			 */
			if (s->cfg->dest_host != NULL && !s->cfg->transparent) {
				SSL_set_hostflags(ssl,
				    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
				SSL_set1_host(ssl, s->cfg->dest_host);
			} else {
				addr_ip_str((struct sockaddr *)&s->orig_dst,
				    ip);
				X509_VERIFY_PARAM_set1_ip_asc(
				    SSL_get0_param(ssl), ip);
			}
		}
	}
	bev = bufferevent_openssl_socket_new(proxyd->base, fd, ssl,
	    server_role ? BUFFEREVENT_SSL_ACCEPTING :
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void
tls_record(struct bufferevent *bev, char **version, char **cipher)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL)
		return;
	free(*version);
	free(*cipher);
	*version = xstrdup(SSL_get_version(ssl));
	*cipher = xstrdup(SSL_get_cipher_name(ssl));
}

const char *
tls_error_string(struct bufferevent *bev)
{
	static char	 buf[256];
	unsigned long	 e;
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);
	long		 vr;

	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, sizeof(buf), "certificate verification: %s",
		    X509_verify_cert_error_string(vr));
		return buf;
	}
	if ((e = bufferevent_get_openssl_error(bev)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		return buf;
	}
	return "connection closed during handshake";
}
