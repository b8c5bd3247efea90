package smartspaces.hadoop;

import org.apache.hadoop.fs.LocalFileSystem;

/** The file:// scheme of Hadoop's FileSystem API (fs.file.impl): checksummed, over {@link NioRawLocalFileSystem}. */
public class NioLocalFileSystem extends LocalFileSystem {
    public NioLocalFileSystem() {
        super(new NioRawLocalFileSystem());
    }
}
