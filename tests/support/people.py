"""A small company for tests, loaded through the real CSV importer."""

from __future__ import annotations

from bot.runtime.app import App
from storage import importer, people
from storage.models import Role

PEOPLE_CSV = """email,name,name_kana,department,title,joined_on,left_on,join_route,leave_reason,skills,location,locale,timezone,slack_user_id,telegram_user_id
hanako@example.com,山田 花子,やまだ はなこ,営業,マネージャー,2015-04-01,2023-03-31,new_grad,転職,営業;交渉,東京,ja,Asia/Tokyo,,
taro@example.com,佐藤 太郎,さとう たろう,営業,部長,2005-04-01,,mid_career,,マネジメント,東京,ja,Asia/Tokyo,,
emma@example.com,Emma Brown,,Engineering,Engineer,2019-10-01,2024-06-30,mid_career,relocation,Python;SQL,London,en,Europe/London,,
hr@example.com,鈴木 人事,すずき じんじ,人事,HR,2010-04-01,,new_grad,,採用,東京,ja,Asia/Tokyo,,
admin@example.com,Admin User,,IT,Admin,2012-04-01,,mid_career,,運用,東京,en,Asia/Tokyo,,
"""
RELATIONS_CSV = """email,other_email,kind
hanako@example.com,taro@example.com,manager
emma@example.com,hanako@example.com,colleague
"""


async def load_company(app: App) -> None:
    now = app.clock.now()
    async with app.db.transaction() as session:
        await importer.import_people(session, PEOPLE_CSV.encode(), now)
        await importer.import_relations(session, RELATIONS_CSV.encode(), now)
        for email, role in (("hr@example.com", Role.HR), ("admin@example.com", Role.ADMIN)):
            person = await people.person_by_email(session, email)
            assert person is not None
            await people.grant(session, person, role, None, now)
