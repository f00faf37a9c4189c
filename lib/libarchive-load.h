/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libarchive, loaded when it is first needed (an archive read through
 * it, a compressed one written) and called through a table: la.read_new()
 * is archive_read_new().  Not installed.
 */
#ifndef BLKSNAP_LIBARCHIVE_LOAD_H
#define BLKSNAP_LIBARCHIVE_LOAD_H

#include <archive.h>
#include <archive_entry.h>

/*
 * The functions of libarchive in use, without their archive_ prefix;
 * archive_errno() is la.error_number(): errno is a macro.
 */
#define LA_FUNCTIONS(F) \
	F(entry_filetype) F(entry_free) F(entry_new) \
	F(entry_pathname) F(entry_set_filetype) F(entry_set_mtime) \
	F(entry_set_pathname) F(entry_set_perm) F(entry_set_size) \
	F(entry_size) F(entry_sparse_add_entry) \
	F(error_string) F(filter_bytes) F(read_data) \
	F(read_data_block) F(read_data_skip) F(read_free) F(read_new) \
	F(read_next_header) F(read_open) F(read_open_fd) F(read_support_filter_all) \
	F(read_support_format_raw) F(read_support_format_tar) F(set_error) F(write_add_filter_gzip) \
	F(write_add_filter_lz4) F(write_add_filter_none) F(write_add_filter_xz) \
	F(write_close) F(write_data) \
	F(write_finish_entry) F(write_free) F(write_header) \
	F(write_new) F(write_open2) F(write_set_bytes_per_block) \
	F(write_set_filter_option) F(write_set_format_pax)

struct libarchive_fns {
#define LA_MEMBER(f) __typeof__(archive_##f) *f;
	LA_FUNCTIONS(LA_MEMBER)
#undef LA_MEMBER
	__typeof__(archive_errno) *error_number;
};

/* Filled by la_ready(); a handle exists only once it is. */
extern struct libarchive_fns la;

/* Loads libarchive once (concurrent callers wait for the first); 0 or -1. */
int la_ready(void);

#endif
