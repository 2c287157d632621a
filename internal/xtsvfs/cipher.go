package xtsvfs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// sectorCipher is XTS-AES (IEEE P1619) over whole 512-byte sectors,
// computing the same bytes as golang.org/x/crypto/xts.Cipher (which the
// library's VFS uses), as TestCipherIsTheLibrarys and the file tests
// check. It is faster because it computes a sector's 32 tweaks at once as
// two 64-bit words instead of bytes, whitens with subtle.XORBytes, and
// takes nothing from a sync.Pool per sector.
type sectorCipher struct {
	k1, k2 cipher.Block
}

// newCipher returns the XTS cipher for key (its first half keys the data,
// its second half the tweak, as in x/crypto/xts), or nil when the key has
// the wrong length.
func newCipher(key []byte) *sectorCipher {
	k1, err := aes.NewCipher(key[:len(key)/2])
	if err != nil {
		return nil
	}
	k2, err := aes.NewCipher(key[len(key)/2:])
	if err != nil {
		return nil
	}
	return &sectorCipher{k1, k2}
}

// tweaks fills t with the tweak of each 16-byte block of a sector: the
// sector number encrypted with k2, then multiplied by x in GF(2^128) once
// per block (little-endian, reduction by x^7 + x^2 + x + 1).
func (c *sectorCipher) tweaks(t *[sectorSize]byte, sectorNum uint64) {
	var t0b [16]byte
	binary.LittleEndian.PutUint64(t0b[:8], sectorNum)
	c.k2.Encrypt(t0b[:], t0b[:])
	lo := binary.LittleEndian.Uint64(t0b[:8])
	hi := binary.LittleEndian.Uint64(t0b[8:])
	for i := 0; i < sectorSize; i += 16 {
		binary.LittleEndian.PutUint64(t[i:], lo)
		binary.LittleEndian.PutUint64(t[i+8:], hi)
		carry := hi >> 63
		hi = hi<<1 | lo>>63
		lo = lo<<1 ^ carry*0x87
	}
}

// Encrypt encrypts one sector (len(src) == sectorSize) into dst, which
// may be src.
func (c *sectorCipher) Encrypt(dst, src []byte, sectorNum uint64) {
	var t [sectorSize]byte
	c.tweaks(&t, sectorNum)
	dst, src = dst[:sectorSize], src[:sectorSize]
	subtle.XORBytes(dst, src, t[:])
	for i := 0; i < sectorSize; i += 16 {
		c.k1.Encrypt(dst[i:i+16], dst[i:i+16])
	}
	subtle.XORBytes(dst, dst, t[:])
}

// Decrypt decrypts one sector (len(src) == sectorSize) into dst, which
// may be src.
func (c *sectorCipher) Decrypt(dst, src []byte, sectorNum uint64) {
	var t [sectorSize]byte
	c.tweaks(&t, sectorNum)
	dst, src = dst[:sectorSize], src[:sectorSize]
	subtle.XORBytes(dst, src, t[:])
	for i := 0; i < sectorSize; i += 16 {
		c.k1.Decrypt(dst[i:i+16], dst[i:i+16])
	}
	subtle.XORBytes(dst, dst, t[:])
}

// DecryptBlocks decrypts in place the 16-byte blocks buf of one sector
// that start at byte from of the sector (from and len(buf) multiples of
// 16, from+len(buf) <= sectorSize). XTS encrypts each block of a sector
// on its own with the block's tweak, so part of a sector decrypts without
// the rest.
func (c *sectorCipher) DecryptBlocks(buf []byte, sectorNum uint64, from int) {
	var t [sectorSize]byte
	c.tweaks(&t, sectorNum)
	tw := t[from : from+len(buf)]
	subtle.XORBytes(buf, buf, tw)
	for i := 0; i < len(buf); i += 16 {
		c.k1.Decrypt(buf[i:i+16], buf[i:i+16])
	}
	subtle.XORBytes(buf, buf, tw)
}
