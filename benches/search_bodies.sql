-- The bodies of benches/search.sh: every seeded message gets a body of its own, drawn from its
-- id (the same on every run): a clinic sentence (Spanish or English), a pseudo-word whose rank
-- w follows a Zipf-like law (w = 8000 r^3: the commonest in 5% of the messages, the rarest in
-- about 30), another sentence and a reference number. Run by the sqlite3 shell in the seed
-- copy's directory; it writes trigger.sql there (see below).
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
PRAGMA temp_store = MEMORY;

CREATE TEMP TABLE phrases (i INTEGER PRIMARY KEY, p TEXT NOT NULL);
INSERT INTO phrases (i, p) VALUES
 (0, '¿Puedo cambiar mi cita para el martes por la mañana?'),
 (1, 'Los resultados de la resonancia magnética ya están listos.'),
 (2, 'I have had a headache since yesterday evening.'),
 (3, 'Tengo dolor de cabeza y un poco de fiebre.'),
 (4, 'Please bring your insurance card to the appointment.'),
 (5, 'La receta de ibuprofeno está en la farmacia.'),
 (6, 'Your MRI is scheduled for Thursday at 9.'),
 (7, 'Gracias doctora, me siento mucho mejor.'),
 (8, 'Can you send me the lab results from last week?'),
 (9, 'El análisis de sangre salió normal.'),
 (10, 'Recuerde tomar la medicación con comida.'),
 (11, 'My blood pressure was high this morning.'),
 (12, 'Necesito una nota médica para el trabajo.'),
 (13, 'The referral letter was sent to the cardiologist.'),
 (14, 'Por favor confirme su cita de seguimiento.'),
 (15, 'I will be ten minutes late, sorry!'),
 (16, 'La vacuna contra la gripe ya está disponible.'),
 (17, 'Is it normal to feel dizzy after the new dose?'),
 (18, 'Le llamamos para reprogramar la cita.'),
 (19, 'The pharmacy says the prescription needs approval.'),
 (20, 'Mi hijo tiene tos desde hace tres días.'),
 (21, 'We received your x-ray, the doctor will call you.'),
 (22, 'Puede venir sin cita los viernes por la tarde.'),
 (23, 'Thank you, see you at the clinic on Tuesday morning.'),
 (24, 'La ecografía está programada para el lunes.'),
 (25, 'Do I need to fast before the blood test?'),
 (26, 'Sí, ayuno de ocho horas antes del análisis.'),
 (27, 'The rash on my arm is getting worse.'),
 (28, 'Envíe una foto de la erupción, por favor.'),
 (29, 'Your copay for the visit is twenty dollars.'),
 (30, 'El seguro no cubre la consulta con el especialista.'),
 (31, 'Can I get a refill of my inhaler?');
CREATE TEMP TABLE syllables (i INTEGER PRIMARY KEY, s TEXT NOT NULL);
INSERT INTO syllables (i, s) VALUES (0,'ma'),(1,'ri'),(2,'so'),(3,'ne'),(4,'ta'),(5,'lu'),
 (6,'ve'),(7,'ko'),(8,'pi'),(9,'da'),(10,'mu'),(11,'se'),(12,'ga'),(13,'lo'),(14,'fi'),
 (15,'ru'),(16,'te'),(17,'bo'),(18,'ni'),(19,'ca');

-- Rewriting a million bodies through the index's update trigger would index each twice; the
-- index is emptied and the trigger set aside (its text kept in trigger.sql, to be run after
-- this script), and `parlor check --rebuild-search` builds the index afterwards.
CREATE TEMP TABLE kept_trigger AS
    SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = 'message_search_update';
BEGIN;
INSERT INTO message_search (message_search) VALUES ('delete-all');
DROP TRIGGER message_search_update;
UPDATE messages SET body =
  (SELECT p FROM phrases WHERE i = ((r.mid * 2654435761) % 4294967296) % 32) || ' ' ||
  (SELECT s FROM syllables WHERE i = r.w % 20) || (SELECT s FROM syllables WHERE i = (r.w / 20) % 20)
      || (SELECT s FROM syllables WHERE i = (r.w / 400) % 20) || ' ' ||
  (SELECT p FROM phrases WHERE i = (((r.mid * 2246822519) % 4294967296) / 7) % 32) || ' ref '
      || ((r.mid * 7919) % 100000)
FROM (SELECT id AS mid,
             CAST(8000 * (((id * 40503) % 65536) / 65536.0) * (((id * 40503) % 65536) / 65536.0)
                  * (((id * 40503) % 65536) / 65536.0) AS INTEGER) AS w
      FROM messages) AS r
WHERE messages.id = r.mid;
-- The conversations' last message as the lists show it.
UPDATE conversations SET last_message_text = (SELECT body FROM messages WHERE id = conversations.last_message_id)
WHERE last_message_id IS NOT NULL;
COMMIT;
.output trigger.sql
SELECT sql || ';' FROM kept_trigger;
.output stdout
SELECT 'varied: ' || count(*) || ' bodies' FROM messages;
