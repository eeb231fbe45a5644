/** A file to upload and its library name (a path inside a dropped or picked folder). */
export interface Picked {
  file: File;
  name: string;
}

/** The files of a picker: with a folder, each named by its path inside it. */
export function pickedFiles(input: HTMLInputElement): Picked[] {
  return [...(input.files ?? [])].map((file) => ({ file, name: file.webkitRelativePath || file.name }));
}

/**
 * The files of a drop, folders walked to the bottom (each file named by its path from the dropped
 * folder). Entries must be taken from the items during the event itself, before any await.
 */
export async function droppedFiles(transfer: DataTransfer): Promise<Picked[]> {
  const entries = [...transfer.items].map((item) => (item.kind === 'file' ? item.webkitGetAsEntry() : null));
  if (entries.every((entry) => entry === null)) return [...transfer.files].map((file) => ({ file, name: file.name }));
  const found: Picked[] = [];
  for (const entry of entries) if (entry) await walk(entry, found);
  return found;
}

async function walk(entry: FileSystemEntry, found: Picked[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    found.push({ file, name: entry.fullPath.replace(/^\/+/, '') });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries answers in batches (about 100 at a time) until it answers with none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return;
    for (const child of batch) await walk(child, found);
  }
}
