/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* XXH3, through the run-time CPU dispatch where the platform has it. */
#ifndef BLKSNAP_XXH_H
#define BLKSNAP_XXH_H

#include <xxhash.h>
#ifdef HAVE_XXH_X86DISPATCH
#include <xxh_x86dispatch.h>
#endif

#endif
