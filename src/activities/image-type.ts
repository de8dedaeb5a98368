import { fileTypeFromBuffer } from 'file-type';

/** The image types Gemini accepts inline, each with the extension an object of that type is stored under. */
const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/heic': 'heic',
  'image/heif': 'heif',
};

export const SUPPORTED_IMAGE_TYPES = 'PNG, JPEG, WebP, HEIC or HEIF';

export type SniffedType = { supported: true; mimeType: string; extension: string } | { supported: false; seen: string };

/** Reads the type from the bytes themselves: a file name, a declared MIME type or a column may lie. */
export async function sniffImageType(bytes: Buffer): Promise<SniffedType> {
  const detected = await fileTypeFromBuffer(bytes);
  if (!detected) return { supported: false, seen: 'no recognisable file type' };
  const extension = EXTENSIONS[detected.mime];
  return extension
    ? { supported: true, mimeType: detected.mime, extension }
    : { supported: false, seen: detected.mime };
}
