/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ELF notes naming the libraries libblksnap loads with dlopen, which
 * dpkg-shlibdeps, rpm's dependency generator and ldd cannot see: the
 * package-metadata convention of systemd's libraries (a ".note.dlopen"
 * section, owner "FDO", type 0x407c0c0a, whose descriptor is a JSON array
 * of {"feature", "description", "priority", "soname": [...]}), so that a
 * packager's tools can turn them into dependencies.  Read them with
 * readelf -n (or "readelf --notes") on libblksnap.so.
 */
#ifndef BLKSNAP_DLOPEN_NOTE_H
#define BLKSNAP_DLOPEN_NOTE_H

#include <stdint.h>

#define BS_DLOPEN_NOTE_OWNER "FDO"
#define BS_DLOPEN_NOTE_TYPE 0x407c0c0a

/*
 * One note: the ELF note header, the owner's name and the JSON text (with
 * its NUL), each 4-byte aligned as ELF notes are on every class.  The
 * assembler gives a section named .note.* the type SHT_NOTE; "used"
 * keeps the object, which nothing references, in the library.
 */
#define BS_DLOPEN_NOTE(ident, json)					\
	__attribute__((used, section(".note.dlopen"), aligned(4)))	\
	static const struct {						\
		uint32_t n_namesz, n_descsz, n_type;			\
		char name[sizeof(BS_DLOPEN_NOTE_OWNER)];		\
		char desc[sizeof(json)] __attribute__((aligned(4)));	\
	} ident = {							\
		sizeof(BS_DLOPEN_NOTE_OWNER), sizeof(json),		\
		BS_DLOPEN_NOTE_TYPE, BS_DLOPEN_NOTE_OWNER, json		\
	}

#endif
