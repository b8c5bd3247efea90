package smartspaces.hadoop;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;
import org.apache.hadoop.fs.FSLinkResolver;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsAction;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system without a process per file.
 *
 * <p>Without Hadoop's native library (pyspark's jars have none), {@link RawLocalFileSystem} runs {@code chmod}
 * for every file and directory it creates and {@code readlink} for every link status a rename asks for: about
 * thirty processes in each of the ingest's micro-batches (its checkpoint's offsets and commits, the Delta
 * commits of its quarantine and archive, their checksum files), a few milliseconds each on a busy machine.
 * Here both are calls of the JVM; anything else is Hadoop's own.
 */
public class NioRawLocalFileSystem extends RawLocalFileSystem {
    @Override
    public void setPermission(Path path, FsPermission permission) throws IOException {
        java.nio.file.Path file = pathToFile(path).toPath();
        try {
            Files.setPosixFilePermissions(file, posix(permission));
        } catch (UnsupportedOperationException notPosix) {
            super.setPermission(path, permission);
        }
    }

    /**
     * A link's status names its target, qualified (FileSystem's contract); anything else's is its status.
     * Hadoop's own asks {@code readlink} about the path's URI rather than the file, so it never sees a link.
     */
    @Override
    public FileStatus getFileLinkStatus(Path path) throws IOException {
        java.nio.file.Path file = pathToFile(path).toPath();
        if (!Files.isSymbolicLink(file)) {
            return getFileStatus(path);
        }
        Path link = path.makeQualified(getUri(), getWorkingDirectory());
        Path target = FSLinkResolver.qualifySymlinkTarget(getUri(), link, getLinkTarget(path));
        try {
            FileStatus linked = getFileStatus(path);
            return new FileStatus(linked.getLen(), false, linked.getReplication(), linked.getBlockSize(),
                    linked.getModificationTime(), linked.getAccessTime(), linked.getPermission(), linked.getOwner(),
                    linked.getGroup(), target, link);
        } catch (FileNotFoundException dangling) {
            return new FileStatus(0, false, 0, 0, 0, 0, FsPermission.getDefault(), "", "", target, link);
        }
    }

    /** A link's target as the link holds it (FileContext qualifies it itself). */
    @Override
    public Path getLinkTarget(Path path) throws IOException {
        java.nio.file.Path file = pathToFile(path).toPath();
        if (!Files.isSymbolicLink(file)) {
            return super.getLinkTarget(path); // Hadoop's error for a path that is not a link
        }
        return new Path(Files.readSymbolicLink(file).toString());
    }

    static Set<PosixFilePermission> posix(FsPermission permission) {
        Set<PosixFilePermission> granted = EnumSet.noneOf(PosixFilePermission.class);
        grant(granted, permission.getUserAction(),
                PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);
        grant(granted, permission.getGroupAction(),
                PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE);
        grant(granted, permission.getOtherAction(),
                PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);
        return granted;
    }

    private static void grant(
            Set<PosixFilePermission> granted,
            FsAction action,
            PosixFilePermission read,
            PosixFilePermission write,
            PosixFilePermission execute) {
        if (action.implies(FsAction.READ)) {
            granted.add(read);
        }
        if (action.implies(FsAction.WRITE)) {
            granted.add(write);
        }
        if (action.implies(FsAction.EXECUTE)) {
            granted.add(execute);
        }
    }
}
