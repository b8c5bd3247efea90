package smartspaces.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The partial (map-side) half of "group by the key; max of one timestamp; the list of each other column's
 * non-null values", for input whose rows of one key mostly come together.
 *
 * <p>Spark plans collect_list as an object hash aggregation whose map holds 128 groups; past that it sorts the
 * task's whole input by the key, a copy of every row. The events' digest reads (device, day) partitions in time
 * order, so a task's open groups are those of the device and hour it is reading: a map of a few hundred groups
 * holds them, and when it fills it is emitted whole and started again. A group emitted twice is two partial
 * rows, which the caller's aggregation after the shuffle merges (max of the maxima, the lists concatenated), so
 * the result is the same whatever the order of the input; only the number of partial rows depends on it.
 *
 * <p>Input columns: the key's first, then the timestamp to take the maximum of, then the columns to list. The
 * output has the same columns, each listed one as an array of its non-null values (in input order).
 */
public final class PartialListAggregation {
    private PartialListAggregation() {}

    public static Dataset<Row> of(Dataset<Row> input, int keyColumns, int openGroups) {
        StructType schema = input.schema();
        if (keyColumns < 0 || keyColumns >= schema.size()) {
            throw new IllegalArgumentException("key columns: " + keyColumns + " of " + schema.size());
        }
        if (!schema.fields()[keyColumns].dataType().equals(DataTypes.TimestampType)) {
            throw new IllegalArgumentException("column " + schema.fields()[keyColumns].name() + " must be a timestamp");
        }
        if (openGroups < 1) {
            throw new IllegalArgumentException("open groups: " + openGroups);
        }
        StructField[] fields = schema.fields().clone();
        fields[keyColumns] = fields[keyColumns].copy(fields[keyColumns].name(), DataTypes.TimestampType, true, fields[keyColumns].metadata());
        for (int column = keyColumns + 1; column < fields.length; column++) {
            StructField listed = fields[column];
            fields[column] = listed.copy(listed.name(), new ArrayType(listed.dataType(), false), false, listed.metadata());
        }
        Groups groups = new Groups(schema, keyColumns, openGroups);
        return input.sparkSession()
                .internalCreateDataFrame(input.queryExecution().toRdd().toJavaRDD().mapPartitions(groups).rdd(), new StructType(fields), false);
    }

    /** One task's partial rows, emitted as the map of open groups fills and at the end of the input. */
    private static final class Groups implements FlatMapFunction<Iterator<InternalRow>, InternalRow> {
        private final DataType[] types;
        private final int keyColumns;
        private final int openGroups;

        Groups(StructType schema, int keyColumns, int openGroups) {
            this.types = Arrays.stream(schema.fields()).map(StructField::dataType).toArray(DataType[]::new);
            this.keyColumns = keyColumns;
            this.openGroups = openGroups;
        }

        @Override
        public Iterator<InternalRow> call(Iterator<InternalRow> rows) {
            return new PartialRows(rows, types, keyColumns, openGroups);
        }
    }

    private static final class PartialRows implements Iterator<InternalRow> {
        private final Iterator<InternalRow> rows;
        private final DataType[] types;
        private final int keyColumns;
        private final int openGroups;
        // The key's columns, which are the input's first: projected by their types alone.
        private final UnsafeProjection keyOf;
        private final Map<UnsafeRow, Group> open;
        private Group last;
        private Iterator<Group> emitting = java.util.Collections.emptyIterator();

        PartialRows(Iterator<InternalRow> rows, DataType[] types, int keyColumns, int openGroups) {
            this.rows = rows;
            this.types = types;
            this.keyColumns = keyColumns;
            this.openGroups = openGroups;
            this.keyOf = UnsafeProjection.create(Arrays.copyOf(types, keyColumns));
            this.open = new HashMap<>(openGroups * 2);
        }

        @Override
        public boolean hasNext() {
            while (!emitting.hasNext()) {
                if (!rows.hasNext()) {
                    if (open.isEmpty()) {
                        return false;
                    }
                    emitOpen();
                    break;
                }
                add(rows.next());
            }
            return true;
        }

        @Override
        public InternalRow next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            return emitting.next().row();
        }

        private void add(InternalRow row) {
            UnsafeRow key = keyOf.apply(row);
            Group group = last != null && last.key.equals(key) ? last : open.get(key);
            if (group == null) {
                if (open.size() >= openGroups) {
                    emitOpen();
                }
                group = new Group(key.copy(), types, keyColumns);
                open.put(group.key, group);
            }
            group.add(row);
            last = group;
        }

        private void emitOpen() {
            emitting = new ArrayList<>(open.values()).iterator();
            open.clear();
            last = null;
        }
    }

    /** One key's maximum and lists so far. */
    private static final class Group {
        final UnsafeRow key;
        private final DataType[] types;
        private final int keyColumns;
        private boolean hasMax;
        private long max;
        private final Object[] lists;

        Group(UnsafeRow key, DataType[] types, int keyColumns) {
            this.key = key;
            this.types = types;
            this.keyColumns = keyColumns;
            this.lists = new Object[types.length - keyColumns - 1];
            for (int index = 0; index < lists.length; index++) {
                lists[index] = types[keyColumns + 1 + index].equals(DataTypes.DoubleType) ? new Doubles() : new ArrayList<Object>();
            }
        }

        @SuppressWarnings("unchecked")
        void add(InternalRow row) {
            if (!row.isNullAt(keyColumns)) {
                long time = row.getLong(keyColumns);
                max = hasMax ? Math.max(max, time) : time;
                hasMax = true;
            }
            for (int index = 0; index < lists.length; index++) {
                int column = keyColumns + 1 + index;
                if (row.isNullAt(column)) {
                    continue;
                }
                if (lists[index] instanceof Doubles doubles) {
                    doubles.add(row.getDouble(column));
                } else {
                    // Copied: the input's rows and their fields are reused by the operator before this one.
                    ((List<Object>) lists[index]).add(InternalRow.copyValue(row.get(column, types[column])));
                }
            }
        }

        @SuppressWarnings("unchecked")
        InternalRow row() {
            Object[] values = new Object[types.length];
            for (int column = 0; column < keyColumns; column++) {
                values[column] = key.get(column, types[column]);
            }
            values[keyColumns] = hasMax ? max : null;
            for (int index = 0; index < lists.length; index++) {
                values[keyColumns + 1 + index] = lists[index] instanceof Doubles doubles
                        ? doubles.array()
                        : new GenericArrayData(((List<Object>) lists[index]).toArray());
            }
            return new GenericInternalRow(values);
        }
    }

    /** A growing double[]: the listed values without a boxed object each. */
    private static final class Doubles {
        private double[] values = new double[16];
        private int size;

        void add(double value) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
        }

        UnsafeArrayData array() {
            return UnsafeArrayData.fromPrimitiveArray(Arrays.copyOf(values, size));
        }
    }
}
