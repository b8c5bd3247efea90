package smartspaces.postgres;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * Fills a PostgreSQL table with binary COPY from every partition of a DataFrame, on the executors.
 *
 * <p>Each task encodes its partition's rows (Spark's internal rows, no conversion to Python or to external
 * rows) into COPY's binary format and streams them over a JDBC connection of its own. The COPY and a claim
 * of (table, partition) commit in one transaction: a task that Spark runs again after its COPY committed
 * finds the claim and copies nothing, and a task that fails before its commit leaves nothing behind. The
 * statements come from the caller (smartspaces.stages.enrichment.reporting.staging_copy), which owns the
 * tables' names.
 *
 * <p>A binary row is a 16-bit field count, then per field a 32-bit length (-1 for NULL) and the value in
 * the type's binary form, all big-endian; dates and instants count from 2000-01-01.
 */
public final class BinaryCopyWriter implements Serializable {
  private static final long serialVersionUID = 1L;

  private static final byte[] SIGNATURE = {
    'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xff, '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0
  };
  private static final short TRAILER = -1;
  private static final long PG_EPOCH_MICROS = 946_684_800_000_000L;
  private static final int PG_EPOCH_DAYS = 10_957;
  // SQLSTATE connection_failure: the caller reports the class 08 as the server's fault.
  private static final String CONNECTION_FAILURE = "08006";
  // Bytes a task encodes before it hands them to the connection: large enough that a call costs little.
  private static final int FLUSH_BYTES = 1 << 18;
  // Ends a connection whose sent bytes the server has not taken in time (see sendTimeoutMillis).
  private static final ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(
          task -> {
            Thread thread = new Thread(task, "smartspaces-copy-watchdog");
            thread.setDaemon(true);
            return thread;
          });

  /** Hands encoded bytes to the COPY. */
  private interface Sender {
    void send(byte[] bytes, int length) throws SQLException;
  }

  /** Writes one non-NULL field (its length and value) of a row. */
  private interface FieldEncoder extends Serializable {
    void encode(InternalRow row, int ordinal, CopyBuffer out);
  }

  private final String url;
  private final Properties credentials;
  private final String copyStatement;
  private final String claimStatement;
  private final String heldStatement;
  private final String recordStatement;
  private final String tableName;
  private final FieldEncoder[] encoders;
  // pgjdbc's socketTimeout bounds reads only, and it has no TCP user timeout: a send that the server does not
  // take for this long (a server that stopped answering) aborts the connection, so the task fails instead of
  // blocking until the kernel gives up on the socket.
  private final long sendTimeoutMillis;

  /**
   * @param pgTypes the target columns' types (pg_type.typname), in the rows' column order
   * @param claimStatement inserts the claim (table name, partition), doing nothing when it exists
   * @param heldStatement selects the rows a claim's committed COPY holds (table name, partition)
   * @param recordStatement sets a claim's rows (rows, table name, partition)
   * @param sendTimeoutSeconds how long a send of encoded rows may wait before the connection is aborted
   */
  public BinaryCopyWriter(
      String url,
      String user,
      String password,
      String copyStatement,
      String claimStatement,
      String heldStatement,
      String recordStatement,
      String tableName,
      StructField[] fields,
      String[] pgTypes,
      int sendTimeoutSeconds) {
    if (fields.length != pgTypes.length) {
      throw new IllegalArgumentException(fields.length + " columns but " + pgTypes.length + " PostgreSQL types");
    }
    this.url = url;
    this.credentials = new Properties();
    credentials.setProperty("user", user);
    if (password != null) {
      credentials.setProperty("password", password);
    }
    this.copyStatement = copyStatement;
    this.claimStatement = claimStatement;
    this.heldStatement = heldStatement;
    this.recordStatement = recordStatement;
    this.tableName = tableName;
    this.sendTimeoutMillis = TimeUnit.SECONDS.toMillis(sendTimeoutSeconds);
    this.encoders = new FieldEncoder[fields.length];
    for (int i = 0; i < fields.length; i++) {
      encoders[i] = encoder(fields[i].name(), fields[i].dataType(), pgTypes[i]);
    }
  }

  /** Copies every partition of the rows; returns the rows the table holds from them. */
  public long copy(Dataset<Row> rows) {
    List<Long> held = rows.queryExecution().toRdd().toJavaRDD().mapPartitions(this::copyPartition).collect();
    long total = 0;
    for (long partition : held) {
      total += partition;
    }
    return total;
  }

  /** The rows in binary COPY form, signature and trailer included, encoded on the driver (for tests). */
  public static byte[] encodeAll(Dataset<Row> rows, String[] pgTypes) {
    StructField[] fields = rows.schema().fields();
    BinaryCopyWriter writer = new BinaryCopyWriter("", "", null, "", "", "", "", "", fields, pgTypes, 0);
    // A plan's rows may be one object reused for each: copied before they are collected.
    List<InternalRow> collected = rows.queryExecution().toRdd().toJavaRDD().map(InternalRow::copy).collect();
    CopyBuffer out = new CopyBuffer(null);
    out.reserve(SIGNATURE.length).put(SIGNATURE);
    for (InternalRow row : collected) {
      writer.encodeRow(row, out);
    }
    out.reserve(2).putShort(TRAILER);
    return out.bytes();
  }

  private Iterator<Long> copyPartition(Iterator<InternalRow> rows) throws SQLException {
    // An empty partition has nothing to copy, nor to copy twice: no connection, no claim.
    if (!rows.hasNext()) {
      return Collections.singletonList(0L).iterator();
    }
    int partition = TaskContext.getPartitionId();
    try (Connection connection = DriverManager.getConnection(url, credentials)) {
      connection.setAutoCommit(false);
      try {
        long held = copyOnce(connection, partition, rows);
        connection.commit();
        return Collections.singletonList(held).iterator();
      } catch (SQLException | RuntimeException failure) {
        // On a lost connection the rollback fails too: the first failure is the one to report.
        try {
          connection.rollback();
        } catch (SQLException rollback) {
          failure.addSuppressed(rollback);
        }
        throw failure;
      }
    }
  }

  private long copyOnce(Connection connection, int partition, Iterator<InternalRow> rows) throws SQLException {
    // A concurrent attempt of the same partition waits here until the first commits or rolls back.
    try (PreparedStatement claim = ofPartition(connection, claimStatement, partition)) {
      if (claim.executeUpdate() == 0) {
        try (PreparedStatement held = ofPartition(connection, heldStatement, partition);
            ResultSet result = held.executeQuery()) {
          return result.next() ? result.getLong(1) : 0;
        }
      }
    }
    CopyIn copy = connection.unwrap(PGConnection.class).getCopyAPI().copyIn(copyStatement);
    long copied = 0;
    try {
      CopyBuffer out = new CopyBuffer((bytes, length) -> sendWatched(connection, copy, bytes, length));
      out.reserve(SIGNATURE.length).put(SIGNATURE);
      while (rows.hasNext()) {
        encodeRow(rows.next(), out);
        copied++;
        out.flushWhenFull();
      }
      out.reserve(2).putShort(TRAILER);
      out.flush();
      copy.endCopy();
    } catch (SQLException | RuntimeException failure) {
      if (copy.isActive()) {
        try {
          copy.cancelCopy();
        } catch (SQLException cancel) {
          failure.addSuppressed(cancel);
        }
      }
      throw failure;
    }
    try (PreparedStatement record = connection.prepareStatement(recordStatement)) {
      record.setLong(1, copied);
      record.setString(2, tableName);
      record.setInt(3, partition);
      record.executeUpdate();
    }
    return copied;
  }

  private void sendWatched(Connection connection, CopyIn copy, byte[] bytes, int length) throws SQLException {
    AtomicBoolean aborted = new AtomicBoolean();
    ScheduledFuture<?> abort =
        WATCHDOG.schedule(() -> abortQuietly(connection, aborted), sendTimeoutMillis, TimeUnit.MILLISECONDS);
    try {
      copy.writeToCopy(bytes, 0, length);
    } catch (SQLException failure) {
      if (aborted.get()) {
        throw new SQLException(
            "the server took no rows for " + sendTimeoutMillis / 1000 + " s (postgres.socket_timeout_s)",
            CONNECTION_FAILURE,
            failure);
      }
      throw failure;
    } finally {
      abort.cancel(false);
    }
  }

  private static void abortQuietly(Connection connection, AtomicBoolean aborted) {
    aborted.set(true);
    try {
      // pgjdbc closes the socket: the blocked send fails.
      connection.abort(Runnable::run);
    } catch (SQLException ignored) {
      // The task fails on its send either way.
    }
  }

  /** The statement with its (table name, partition) parameters set. */
  private PreparedStatement ofPartition(Connection connection, String statement, int partition)
      throws SQLException {
    PreparedStatement prepared = connection.prepareStatement(statement);
    prepared.setString(1, tableName);
    prepared.setInt(2, partition);
    return prepared;
  }

  private void encodeRow(InternalRow row, CopyBuffer out) {
    out.reserve(2).putShort((short) encoders.length);
    for (int i = 0; i < encoders.length; i++) {
      if (row.isNullAt(i)) {
        out.reserve(4).putInt(-1);
      } else {
        encoders[i].encode(row, i, out);
      }
    }
  }

  /** The encoders by PostgreSQL type (pg_type.typname), then by the Spark type the column is read as. */
  private static final Map<String, Map<DataType, FieldEncoder>> ENCODERS =
      Map.ofEntries(
          Map.entry("text", Map.of(DataTypes.StringType, BinaryCopyWriter::text)),
          Map.entry("varchar", Map.of(DataTypes.StringType, BinaryCopyWriter::text)),
          Map.entry("uuid", Map.of(DataTypes.StringType, BinaryCopyWriter::uuid)),
          Map.entry("int2", Map.of(DataTypes.ShortType, (row, i, out) -> out.reserve(6).putInt(2).putShort(row.getShort(i)))),
          Map.entry("int4", Map.of(DataTypes.IntegerType, (row, i, out) -> out.reserve(8).putInt(4).putInt(row.getInt(i)))),
          Map.entry(
              "int8",
              Map.of(
                  DataTypes.LongType, (row, i, out) -> out.reserve(12).putInt(8).putLong(row.getLong(i)),
                  DataTypes.IntegerType, (row, i, out) -> out.reserve(12).putInt(8).putLong(row.getInt(i)))),
          Map.entry("float4", Map.of(DataTypes.FloatType, (row, i, out) -> out.reserve(8).putInt(4).putFloat(row.getFloat(i)))),
          Map.entry(
              "float8", Map.of(DataTypes.DoubleType, (row, i, out) -> out.reserve(12).putInt(8).putDouble(row.getDouble(i)))),
          Map.entry(
              "bool",
              Map.of(DataTypes.BooleanType, (row, i, out) -> out.reserve(5).putInt(1).put((byte) (row.getBoolean(i) ? 1 : 0)))),
          Map.entry(
              "date",
              Map.of(DataTypes.DateType, (row, i, out) -> out.reserve(8).putInt(4).putInt(row.getInt(i) - PG_EPOCH_DAYS))),
          // Spark holds an instant as microseconds since 1970-01-01 UTC, whatever the session's zone.
          Map.entry(
              "timestamptz",
              Map.of(
                  DataTypes.TimestampType,
                  (row, i, out) -> out.reserve(12).putInt(8).putLong(row.getLong(i) - PG_EPOCH_MICROS))));

  /** The encoder of a column: the Spark type it is read as and the PostgreSQL type it is written as. */
  private static FieldEncoder encoder(String column, DataType spark, String pg) {
    Map<DataType, FieldEncoder> bySparkType = ENCODERS.get(pg);
    if (bySparkType == null) {
      throw new IllegalArgumentException(
          "column " + column + ": no binary COPY encoding for PostgreSQL type " + pg);
    }
    FieldEncoder encoder = bySparkType.get(spark);
    if (encoder == null) {
      throw new IllegalArgumentException(
          "column " + column + ": Spark type " + spark.simpleString() + " is not copied as PostgreSQL type " + pg);
    }
    return encoder;
  }

  private static void text(InternalRow row, int ordinal, CopyBuffer out) {
    out.putSized(row.getUTF8String(ordinal).getBytes());
  }

  private static void uuid(InternalRow row, int ordinal, CopyBuffer out) {
    UUID value = UUID.fromString(row.getUTF8String(ordinal).toString());
    out.reserve(20).putInt(16).putLong(value.getMostSignificantBits()).putLong(value.getLeastSignificantBits());
  }

  /** A growing big-endian buffer that hands its bytes to a COPY once it holds FLUSH_BYTES. */
  private static final class CopyBuffer {
    private final Sender sender;
    private ByteBuffer buffer = ByteBuffer.allocate(FLUSH_BYTES + (1 << 12));

    CopyBuffer(Sender sender) {
      this.sender = sender;
    }

    void putSized(byte[] value) {
      reserve(4 + value.length).putInt(value.length).put(value);
    }

    void flushWhenFull() throws SQLException {
      if (buffer.position() >= FLUSH_BYTES) {
        flush();
      }
    }

    void flush() throws SQLException {
      sender.send(buffer.array(), buffer.position());
      buffer.clear();
    }

    byte[] bytes() {
      byte[] written = new byte[buffer.position()];
      System.arraycopy(buffer.array(), 0, written, 0, written.length);
      return written;
    }

    /** The buffer, with room for the bytes the caller puts next (ByteBuffer's puts chain). */
    ByteBuffer reserve(int bytes) {
      if (buffer.remaining() < bytes) {
        ByteBuffer larger = ByteBuffer.allocate(Math.max(2 * buffer.capacity(), buffer.position() + bytes));
        buffer.flip();
        larger.put(buffer);
        buffer = larger;
      }
      return buffer;
    }
  }
}
