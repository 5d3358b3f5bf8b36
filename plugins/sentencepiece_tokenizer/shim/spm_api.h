// The C interface of spm_shim.so, the library that holds SentencePiece for the tokenizer plugin.
//
// Why a separate library, opened with dlmopen(LM_ID_NEWLM): Debian's libsentencepiece bundles
// its own protobuf-lite (3.14) and exports its symbols. In a process that also has the system
// protobuf (3.21, as libtinylm does) the two copies interpose each other: the process aborts
// with a protobuf version error or crashes in static initialisation. RTLD_DEEPBIND is not
// enough either: the library then writes to libstdc++'s own, never-constructed std::cerr
// (executables hold a copy-relocated one) and crashes. A new link-map namespace gives the shim
// its own libstdc++, libc and protobuf copy. Across namespaces only plain C data may pass, and
// memory is freed on the side that allocated it: hence caller-owned buffers below.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// Trains on `count` documents (bytes concatenated in `data`, lengths in `lengths`) with
// SentencePiece command-line `args`. Returns the serialised model's size and keeps it for
// tinylm_spm_take, or -1 with the error kept instead.
long tinylm_spm_train(const char* data, const long* lengths, long count, const char* args);
// Copies what the last train/load/piece/decode call kept (model, error text, piece or text)
// into `out`, which holds at least the size that call returned (or the error's, see below).
void tinylm_spm_take(char* out);
// Size of the kept error text after a failed call.
long tinylm_spm_error_size(void);

// A processor for a serialised model, or null (error kept). Free with tinylm_spm_unload.
void* tinylm_spm_load(const char* model, long size);
void tinylm_spm_unload(void* sp);
// Encodes `text`; writes min(count, capacity) ids and returns count (ids never outnumber bytes,
// so capacity = size + 1 always suffices).
long tinylm_spm_encode(void* sp, const char* text, long size, int* ids, long capacity);
// Decodes ids; returns the text's size and keeps the text for tinylm_spm_take.
long tinylm_spm_decode(void* sp, const int* ids, long count);
int tinylm_spm_piece_count(void* sp);
// Returns the piece's size and keeps it for tinylm_spm_take.
long tinylm_spm_piece(void* sp, int id);
// 0 normal, 1 unknown, 2 control, 3 byte, 4 unused.
int tinylm_spm_kind(void* sp, int id);
int tinylm_spm_eos_id(void* sp);  // -1: none

#ifdef __cplusplus
}
#endif
