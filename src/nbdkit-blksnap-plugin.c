// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nbdkit-blksnap-plugin: serves the image of a chain of blksnap archives
 * (full, then incrementals) at its last point, read-only, every block
 * checked against its hash (lib/chain-map.h).  See
 * nbdkit-blksnap-plugin(1).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "internal.h"
#include "chain-map.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static char **chain;
static size_t chain_len;
static struct bs_seek_opts seek_opts;
static char *cache_dir;
static struct blksnap_remote_opts remote_opts;
static struct bs_chain_map *map;

static void blksnap_load(void)
{
	blksnap_remote_opts_init(&remote_opts);
}

static void blksnap_unload(void)
{
	size_t i;

	bs_chain_map_close(map);
	for (i = 0; i < chain_len; i++)
		free(chain[i]);
	free(chain);
	free(cache_dir);
}

static int add_archive(const char *value)
{
	char **c = realloc(chain, (chain_len + 1) * sizeof(*chain));
	char *name;

	if (!c) {
		nbdkit_error("out of memory");
		return -1;
	}
	chain = c;
	/* nbdkit changes directory to / when it runs in the background. */
	name = blksnap_is_url(value) ? strdup(value) :
	       nbdkit_absolute_path(value);
	if (!name) {
		nbdkit_error("%s: out of memory", value);
		return -1;
	}
	chain[chain_len++] = name;
	return 0;
}

static int parse_flag(const char *key, const char *value, bool *flag)
{
	int r = nbdkit_parse_bool(value);

	if (r < 0)
		return -1;
	(void)key;
	*flag = r;
	return 0;
}

/* A string option kept for the life of the process. */
static int keep(const char *value, const char **to)
{
	char *s = strdup(value);

	if (!s) {
		nbdkit_error("out of memory");
		return -1;
	}
	*to = s;
	return 0;
}

static int blksnap_config(const char *key, const char *value)
{
	if (!strcmp(key, "archive"))
		return add_archive(value);
	if (!strcmp(key, "cache-dir")) {
		free(cache_dir);
		cache_dir = nbdkit_absolute_path(value);
		return cache_dir ? 0 : -1;
	}
	if (!strcmp(key, "no-cache"))
		return parse_flag(key, value, &seek_opts.no_cache);
	if (!strcmp(key, "s3-endpoint"))
		return keep(value, &remote_opts.s3_endpoint);
	if (!strcmp(key, "s3-region"))
		return keep(value, &remote_opts.s3_region);
	if (!strcmp(key, "s3-path-style"))
		return parse_flag(key, value, &remote_opts.s3_path_style);
	if (!strcmp(key, "cacert"))
		return keep(value, &remote_opts.cacert);
	if (!strcmp(key, "insecure"))
		return parse_flag(key, value, &remote_opts.insecure);
	if (!strcmp(key, "ssh-key"))
		return keep(value, &remote_opts.ssh_key);
	if (!strcmp(key, "ssh-known-hosts"))
		return keep(value, &remote_opts.ssh_known_hosts);
	if (!strcmp(key, "timeout") || !strcmp(key, "retries")) {
		char *end;
		long v = strtol(value, &end, 10);

		if (*value < '0' || *value > '9' || *end || v > 86400) {
			nbdkit_error("%s: not a number of %s: %s", key,
				     key[0] == 't' ? "seconds" : "tries", value);
			return -1;
		}
		if (key[0] == 't')
			remote_opts.timeout = v;
		else
			remote_opts.retries = (int)v;
		return 0;
	}
	nbdkit_error("unknown parameter '%s' (nbdkit blksnap --help lists them)",
		     key);
	return -1;
}

static int blksnap_config_complete(void)
{
	if (!chain_len) {
		nbdkit_error("no archive given: nbdkit blksnap FULL [INCREMENTAL...]");
		return -1;
	}
	return 0;
}

static void remote_message(void *ctx, const char *text)
{
	(void)ctx;
	nbdkit_debug("%s", text);
}

/* Reads the chain's layout before serving: errors reach the terminal. */
static int blksnap_get_ready(void)
{
	const struct blksnap_manifest *m;
	size_t i;

	remote_opts.message = remote_message;
	blksnap_remote_set_defaults(&remote_opts);
	seek_opts.cache_dir = cache_dir;
	if (bs_chain_map_open((const char *const *)chain, chain_len,
			      &seek_opts, &map)) {
		nbdkit_error("%s", blksnap_error());
		return -1;
	}
	for (i = 0; i < chain_len; i++) {
		const char *comp, *how = bs_chain_map_access(map, i, &comp);

		nbdkit_debug("%s: compression %s, read by %s", chain[i], comp,
			     how);
	}
	m = bs_chain_map_manifest(map);
	nbdkit_debug("serving %s (%s, sequence %u, %llu bytes) of %s",
		     m->uuid, m->sequence ? "incremental" : "full",
		     (unsigned int)m->sequence, (unsigned long long)m->size,
		     m->source);
	return 0;
}

static void *blksnap_open(int readonly)
{
	(void)readonly;
	return map;
}

static int64_t blksnap_get_size(void *handle)
{
	return (int64_t)bs_chain_map_size(handle);
}

/* Read-only: nbdkit refuses writes (EPERM) and says so to clients. */
static int blksnap_can_write(void *handle)
{
	(void)handle;
	return 0;
}

/* Every connection sees the same unchanging image. */
static int blksnap_can_multi_conn(void *handle)
{
	(void)handle;
	return 1;
}

static int blksnap_pread(void *handle, void *buf, uint32_t count,
			 uint64_t offset, uint32_t flags)
{
	(void)flags;
	if (bs_chain_map_read(handle, buf, count, offset)) {
		nbdkit_error("%s", blksnap_error());
		nbdkit_set_error(EIO);
		return -1;
	}
	return 0;
}

static int blksnap_thread_model(void)
{
	return THREAD_MODEL;
}

static struct nbdkit_plugin plugin = {
	.name = "blksnap",
	.longname = "blksnap backup chain",
	.version = PACKAGE_VERSION,
	.description = "serves a point of a chain of blksnap archives, read-only, checked against its hashes",
	.load = blksnap_load,
	.unload = blksnap_unload,
	.config = blksnap_config,
	.config_complete = blksnap_config_complete,
	.config_help =
		"[archive=]FILE|URL ...  the chain, full archive first (required)\n"
		"cache-dir=DIR           where compressed archives without a seek table\n"
		"                        are decompressed (default $TMPDIR, else /var/tmp)\n"
		"no-cache=true           refuse such archives instead\n"
		"s3-endpoint=URL s3-region=REGION s3-path-style=true\n"
		"cacert=FILE insecure=true timeout=SECONDS retries=N\n"
		"ssh-key=FILE ssh-known-hosts=FILE  as the blksnap tools' options",
	.magic_config_key = "archive",
	.get_ready = blksnap_get_ready,
	.open = blksnap_open,
	.get_size = blksnap_get_size,
	.can_write = blksnap_can_write,
	.can_multi_conn = blksnap_can_multi_conn,
	.pread = blksnap_pread,
	.thread_model = blksnap_thread_model,
	.errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
